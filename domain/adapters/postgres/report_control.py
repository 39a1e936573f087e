"""PostgreSQL report control: dead letters by filter, batch requeue, cancel, and the processing pause (one row
in `report_processing_pause` while paused). Each change and its audit entries commit together."""

import uuid

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit, append_audit_many
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.reports import report_of_row
from domain.errors import ReportNotCancellableError, ReportNotFoundError
from domain.models.audit import AuditEntry, report_target
from domain.models.reports import DeadLetterFilter, ProcessingPause, Report
from domain.ports.report_control import ReportControl

# Statements spelled out in full (no SQL is built); the reason is matched as text (strpos), never as a
# pattern: an operator's `%` or `_` means itself.
_DEAD = """
SELECT id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
FROM reports
WHERE status = 'failed'
  AND (%(reason)s::text IS NULL OR strpos(lower(coalesce(error, '')), lower(%(reason)s::text)) > 0)
  AND (%(older)s::float8 IS NULL OR finished_at <= now() - %(older)s::float8 * interval '1 second')
ORDER BY finished_at DESC, id LIMIT %(limit)s
"""
_REQUEUE = """
UPDATE reports SET status = 'queued', attempts = 0, error = NULL, started_at = NULL, finished_at = NULL,
    deadline_at = now() + %(deadline)s::float8 * interval '1 second'
WHERE id IN (
    SELECT id FROM reports
    WHERE status = 'failed'
  AND (%(reason)s::text IS NULL OR strpos(lower(coalesce(error, '')), lower(%(reason)s::text)) > 0)
  AND (%(older)s::float8 IS NULL OR finished_at <= now() - %(older)s::float8 * interval '1 second')
    ORDER BY finished_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
RETURNING id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
"""
_CANCEL = """
UPDATE reports SET status = 'cancelled', finished_at = now()
WHERE id = %s AND status IN ('queued', 'failed')
RETURNING id::text, user_id, status, attempts, email_status, error, document IS NOT NULL,
       created_at, started_at, finished_at, deadline_at
"""
_STATUS = "SELECT status FROM reports WHERE id = %s"
_PAUSE = "SELECT paused_by, paused_at FROM report_processing_pause"
_PAUSE_ON = """
INSERT INTO report_processing_pause (paused_by) VALUES (%s) ON CONFLICT (only_row) DO NOTHING
RETURNING paused_by, paused_at
"""
_PAUSE_OFF = "DELETE FROM report_processing_pause RETURNING paused_by"
name_queries({
    _DEAD: "report_control.dead_letters", _REQUEUE: "report_control.requeue_matching",
    _CANCEL: "report_control.cancel", _STATUS: "report_control.status", _PAUSE: "report_control.pause",
    _PAUSE_ON: "report_control.pause_on", _PAUSE_OFF: "report_control.pause_off",
})  # fmt: skip


def _params(matching: DeadLetterFilter, limit: int) -> dict[str, object]:
    return {"reason": matching.reason or None, "older": matching.older_than_s, "limit": limit}


class PostgresReportControl(ReportControl):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def dead_letters(self, matching: DeadLetterFilter, *, limit: int) -> tuple[Report, ...]:
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(_DEAD, _params(matching, limit))).fetchall()
        return tuple(report_of_row(r) for r in rows)

    async def requeue_matching(
        self, matching: DeadLetterFilter, deadline_s: float, *, limit: int, audit: AuditEntry
    ) -> tuple[Report, ...]:
        params = {**_params(matching, limit), "deadline": deadline_s}
        async with connection(self._pool, write=True) as conn, conn.transaction():
            reports = tuple(report_of_row(r) for r in await (await conn.execute(_REQUEUE, params)).fetchall())
            if reports:
                await append_audit_many(conn, [audit.completed(target=report_target(r.user_id, r.id)) for r in reports])
        return reports

    async def cancel(self, report_id: str, *, audit: AuditEntry) -> Report:
        try:
            rid = uuid.UUID(report_id)
        except ValueError:
            raise ReportNotFoundError(report_id) from None
        async with connection(self._pool, write=True) as conn, conn.transaction():
            row = await (await conn.execute(_CANCEL, (rid,))).fetchone()
            if row is None:
                found = await (await conn.execute(_STATUS, (rid,))).fetchone()
                raise (
                    ReportNotFoundError(report_id) if found is None else ReportNotCancellableError(report_id, found[0])
                )
            report = report_of_row(row)
            await append_audit(conn, audit.completed(target=report_target(report.user_id, report.id)))
        return report

    async def pause(self) -> ProcessingPause | None:
        async with connection(self._pool) as conn:
            row = await (await conn.execute(_PAUSE, prepare=True)).fetchone()
        return None if row is None else ProcessingPause(paused_by=row[0], paused_at=row[1])

    async def set_pause(self, paused: bool, *, audit: AuditEntry) -> ProcessingPause | None:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            if paused:
                await conn.execute(_PAUSE_ON, (audit.actor,))
                row = await (await conn.execute(_PAUSE)).fetchone()
                await append_audit(conn, audit)
                return None if row is None else ProcessingPause(paused_by=row[0], paused_at=row[1])
            await conn.execute(_PAUSE_OFF)
            await append_audit(conn, audit)
        return None
