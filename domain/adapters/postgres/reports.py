"""PostgreSQL reports: the durable record. Every write of an attempt is fenced by (status, attempts)."""

import base64
import binascii
import uuid
from collections.abc import Sequence
from datetime import datetime

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres import report_intake
from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.webhook_outbox import append_event
from domain.errors import (
    InvalidRequestError,
    ReportNotFailedError,
    ReportNotFoundError,
    UserErasedError,
    UserNotFoundError,
)
from domain.models.audit import AuditEntry, report_target
from domain.models.reports import Report, ReportClaim, ReportPage, ReportRequest, ReportStatus
from domain.ports.reports import ReportRepository

# Columns of a Report, in order (see `report_of_row`). Statements are spelled out in full: no SQL is built.
_CREATE = """
INSERT INTO reports (id, user_id, idempotency_key, deadline_at)
SELECT %s, u.id, %s, now() + %s * interval '1 second' FROM users u WHERE u.id = %s AND u.erased_at IS NULL
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
"""
_BY_KEY = """
SELECT id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
FROM reports WHERE user_id = %s AND idempotency_key = %s
"""
_GET = """
SELECT id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
FROM reports WHERE id = %s
"""
_DOCUMENT = "SELECT document FROM reports WHERE id = %s"
# Row locks serialise concurrent claims: the loser re-reads the row, finds it running, gets nothing.
_CLAIM = """
UPDATE reports r
SET status = 'running', attempts = r.attempts + 1, started_at = now(), finished_at = NULL,
    deadline_at = now() + %s * interval '1 second'
FROM users u
WHERE r.id = %s AND u.id = r.user_id
  AND (r.status = 'queued' OR (r.status = 'running' AND r.deadline_at < now()))
RETURNING r.user_id, r.attempts, r.email_status, r.document IS NOT NULL, u.email, u.name
"""
# An attempt's writes are fenced: they apply only while the row is running under that attempt's number.
_STORE = "UPDATE reports SET document = %s WHERE id = %s AND status = 'running' AND attempts = %s"
# Entering `sending` needs the live claim; leaving it (the outcome is known) is always recorded.
_EMAIL = """
UPDATE reports SET email_status = %s
WHERE id = %s AND email_status = %s
  AND ((%s::text <> 'pending' AND %s::text <> 'pending') OR (status = 'running' AND attempts = %s))
"""
_FINISH = """
UPDATE reports SET status = %s, error = %s, finished_at = now()
WHERE id = %s AND status = 'running' AND attempts = %s
RETURNING user_id
"""
_RELEASE = """
UPDATE reports SET status = 'queued', error = %s, deadline_at = now() + %s * interval '1 second'
WHERE id = %s AND status = 'running' AND attempts = %s
"""
_STALE = """
UPDATE reports SET status = 'queued', deadline_at = now() + %s * interval '1 second'
WHERE id IN (
    SELECT id FROM reports
    WHERE status IN ('queued', 'running') AND deadline_at < now()
    ORDER BY deadline_at LIMIT %s FOR UPDATE SKIP LOCKED
)
RETURNING id::text
"""
# A dead letter back to the queue: fresh attempts, no reason, a new deadline; the email status is kept.
_REQUEUE = """
UPDATE reports SET status = 'queued', attempts = 0, error = NULL, started_at = NULL, finished_at = NULL,
    deadline_at = now() + %s * interval '1 second'
WHERE id = %s AND status = 'failed'
RETURNING id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
"""
_PAGE = """
SELECT id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
FROM reports
WHERE status = %s AND (%s::timestamptz IS NULL OR (created_at, id) < (%s::timestamptz, %s::uuid))
ORDER BY created_at DESC, id DESC LIMIT %s
"""
_OF_USER = """
SELECT id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
FROM reports
WHERE user_id = %s AND (%s::timestamptz IS NULL OR (created_at, id) < (%s::timestamptz, %s::uuid))
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = reports.user_id AND u.erased_at IS NOT NULL)
ORDER BY created_at DESC, id DESC LIMIT %s
"""
_USER_ERASED_AT = "SELECT u.erased_at FROM users u WHERE u.id = %s"

name_queries({
    _CREATE: "reports.create", _BY_KEY: "reports.by_key", _GET: "reports.get", _DOCUMENT: "reports.document",
    _CLAIM: "reports.claim", _STORE: "reports.store_document", _EMAIL: "reports.email_status",
    _FINISH: "reports.finish", _RELEASE: "reports.release", _STALE: "reports.requeue_stale",
    _REQUEUE: "reports.requeue_failed", _PAGE: "reports.page", _OF_USER: "reports.of_user",
    _USER_ERASED_AT: "reports.user_erased_at",
})  # fmt: skip


def _check_user(user_id: int, row: tuple[object, ...] | None) -> None:
    if row is None:
        raise UserNotFoundError(user_id)
    if row[0] is not None:
        raise UserErasedError(user_id)


def report_of_row(row: tuple[object, ...]) -> Report:
    keys = ("id", "user_id", "status", "attempts", "email_status", "error", "has_document", "created_at",
            "started_at", "finished_at", "deadline_at")  # fmt: skip
    return Report(**dict(zip(keys, row, strict=True)))  # type: ignore[arg-type]


def _uuid(report_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(report_id)
    except ValueError:
        return None


class PostgresReportRepository(ReportRepository):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def create(self, user_id: int, idempotency_key: str | None, deadline_s: float) -> ReportRequest:
        async with connection(self._pool, write=True) as conn:
            cur = await conn.execute(_CREATE, (uuid.uuid4(), idempotency_key, deadline_s, user_id))
            row = await cur.fetchone()
            if row is not None:
                return ReportRequest(report=report_of_row(row), created=True)
            if idempotency_key is not None:
                cur = await conn.execute(_BY_KEY, (user_id, idempotency_key))
                row = await cur.fetchone()
                if row is not None:
                    return ReportRequest(report=report_of_row(row), created=False)
        raise UserNotFoundError(user_id)

    async def create_many(
        self, requests: Sequence[tuple[int, str | None]], deadline_s: float
    ) -> list[ReportRequest | UserNotFoundError]:
        return await report_intake.create_many(self._pool, requests, deadline_s)

    async def get(self, report_id: str) -> Report | None:
        if (rid := _uuid(report_id)) is None:
            return None
        async with connection(self._pool) as conn:
            cur = await conn.execute(_GET, (rid,), prepare=True)
            row = await cur.fetchone()
        return report_of_row(row) if row else None

    async def document(self, report_id: str) -> bytes | None:
        if (rid := _uuid(report_id)) is None:
            return None
        async with connection(self._pool) as conn:
            cur = await conn.execute(_DOCUMENT, (rid,))
            row = await cur.fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    async def claim(self, report_id: str, lease_s: float) -> ReportClaim | None:
        if (rid := _uuid(report_id)) is None:
            return None
        async with connection(self._pool, write=True) as conn:
            cur = await conn.execute(_CLAIM, (lease_s, rid))
            row = await cur.fetchone()
        if row is None:
            return None
        user_id, attempt, email_status, has_document, email, name = row
        return ReportClaim(
            report_id=report_id,
            user_id=user_id,
            attempt=attempt,
            email_status=email_status,
            has_document=has_document,
            recipient=email,
            recipient_name=name,
        )

    async def _write(self, sql: str, params: tuple[object, ...]) -> bool:
        async with connection(self._pool, write=True) as conn:
            cur = await conn.execute(sql, params)
        return cur.rowcount == 1

    async def store_document(self, claim: ReportClaim, document: bytes) -> bool:
        return await self._write(_STORE, (document, uuid.UUID(claim.report_id), claim.attempt))

    async def set_email_status(self, claim: ReportClaim, status: str, *, expected: str) -> bool:
        # Leaving or entering `pending` (starting to send, or giving the email back) needs the live claim.
        args = (status, uuid.UUID(claim.report_id), expected, expected, status, claim.attempt)
        return await self._write(_EMAIL, args)

    async def finish(self, claim: ReportClaim, status: ReportStatus, error: str | None) -> bool:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            cur = await conn.execute(_FINISH, (status, error, uuid.UUID(claim.report_id), claim.attempt))
            if (row := await cur.fetchone()) is not None:  # the outcome's webhook event commits with it
                await append_event(conn, row[0], f"report.{status}", {"report_id": claim.report_id, "error": error})
        return row is not None

    async def release(self, claim: ReportClaim, error: str, deadline_s: float) -> bool:
        return await self._write(_RELEASE, (error, deadline_s, uuid.UUID(claim.report_id), claim.attempt))

    async def requeue_stale(self, deadline_s: float, limit: int) -> list[str]:
        async with connection(self._pool, write=True) as conn:
            cur = await conn.execute(_STALE, (deadline_s, limit))
            rows = await cur.fetchall()
        return [r[0] for r in rows]

    async def requeue_failed(self, report_id: str, deadline_s: float, *, audit: AuditEntry) -> Report:
        if (rid := _uuid(report_id)) is None:
            raise ReportNotFoundError(report_id)
        async with connection(self._pool, write=True) as conn, conn.transaction():
            row = await (await conn.execute(_REQUEUE, (deadline_s, rid))).fetchone()
            if row is None:
                found = await (await conn.execute(_GET, (rid,), prepare=True)).fetchone()
                raise ReportNotFoundError(report_id) if found is None else ReportNotFailedError(report_id, found[2])
            report = report_of_row(row)
            await append_audit(conn, audit.completed(target=report_target(report.user_id, report.id)))
        return report

    async def by_status(self, status: ReportStatus, *, limit: int, cursor: str | None) -> ReportPage:
        return await self._page(_PAGE, status, limit, cursor)

    async def of_user(self, user_id: int, *, limit: int, cursor: str | None) -> ReportPage:
        return await self._page(_OF_USER, user_id, limit, cursor, user_id=user_id)

    async def _page(
        self, statement: str, key: object, limit: int, cursor: str | None, *, user_id: int | None = None
    ) -> ReportPage:
        after = _decode_cursor(cursor)
        created, rid = after if after else (None, None)
        async with connection(self._pool) as conn:
            cur = await conn.execute(statement, (key, created, created, rid, limit + 1))
            rows = await cur.fetchall()
            if not rows and user_id is not None:  # an empty page of a user's: say whether there is such a user
                _check_user(user_id, await (await conn.execute(_USER_ERASED_AT, (user_id,))).fetchone())
        items = tuple(report_of_row(r) for r in rows[:limit])
        more = len(rows) > limit
        return ReportPage(items=items, next_cursor=_encode_cursor(items[-1]) if more and items else None)


def _encode_cursor(last: Report) -> str:
    return base64.urlsafe_b64encode(f"{last.created_at.isoformat()}|{last.id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, rid = text.partition("|")
        return datetime.fromisoformat(created), uuid.UUID(rid)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequestError("the cursor is not one this API gave out", field="cursor") from None
