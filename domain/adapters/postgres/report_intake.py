"""Report requests in groups: the requests of one event-loop turn share one multi-row INSERT ... RETURNING and one
commit (`create_many`), each answered only once its row is durable.

One statement inserts every row whose user exists and is not erased, skipping keys already used (a key repeated
within the group too: its first request creates the report). A second statement, only when a row was skipped and
had a key, reads the reports those keys name.
"""

import uuid
from collections.abc import Sequence

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection, name_queries
from domain.errors import UserNotFoundError
from domain.models.reports import Report, ReportRequest

_CREATE_MANY = """
INSERT INTO reports (id, user_id, idempotency_key, deadline_at)
SELECT r.id, u.id, r.key, now() + %s * interval '1 second'
FROM unnest(%s::uuid[], %s::bigint[], %s::text[]) WITH ORDINALITY AS r(id, user_id, key, n)
JOIN users u ON u.id = r.user_id AND u.erased_at IS NULL
ORDER BY r.n
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
"""
_BY_KEYS = """
SELECT r.id::text, r.user_id, r.status, r.attempts, r.email_status, r.error, r.document IS NOT NULL,
       r.created_at, r.started_at, r.finished_at, r.deadline_at, r.idempotency_key
FROM reports r JOIN unnest(%s::bigint[], %s::text[]) AS k(user_id, key)
  ON r.user_id = k.user_id AND r.idempotency_key = k.key
"""
name_queries({_CREATE_MANY: "reports.create_many", _BY_KEYS: "reports.by_keys"})
_COLUMNS = ("id", "user_id", "status", "attempts", "email_status", "error", "has_document", "created_at",
            "started_at", "finished_at", "deadline_at")  # fmt: skip


async def create_many(
    pool: AsyncConnectionPool, requests: Sequence[tuple[int, str | None]], deadline_s: float
) -> list[ReportRequest | UserNotFoundError]:
    """See `ReportRepository.create_many`."""
    ids = [uuid.uuid4() for _ in requests]
    users = [user_id for user_id, _ in requests]
    keys = [key for _, key in requests]
    async with connection(pool, write=True) as conn:
        cur = await conn.execute(_CREATE_MANY, (deadline_s, ids, users, keys))
        created = {row[0]: _report(row) for row in await cur.fetchall()}
        skipped = [(user_id, key) for (user_id, key), rid in zip(requests, ids, strict=True)
                   if str(rid) not in created and key is not None]  # fmt: skip
        existing: dict[tuple[int, str], Report] = {}
        if skipped:
            cur = await conn.execute(_BY_KEYS, ([u for u, _ in skipped], [k for _, k in skipped]))
            existing = {(row[1], row[-1]): _report(row[:-1]) for row in await cur.fetchall()}
    results: list[ReportRequest | UserNotFoundError] = []
    for (user_id, key), rid in zip(requests, ids, strict=True):
        report = created.get(str(rid))
        if report is not None:
            results.append(ReportRequest(report=report, created=True))
        elif key is not None and (user_id, key) in existing:
            results.append(ReportRequest(report=existing[(user_id, key)], created=False))
        else:
            results.append(UserNotFoundError(user_id))
    return results


def _report(row: Sequence[object]) -> Report:
    return Report(**dict(zip(_COLUMNS, row, strict=True)))  # type: ignore[arg-type]
