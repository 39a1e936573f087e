"""PostgreSQL market day: each job's work and its (job, day) run in one transaction, so a repeat does nothing."""

from datetime import date, datetime

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.daily_values import invalidate_from
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.quotes import INGEST_LOCK
from domain.models.audit import AuditEntry
from domain.models.market_day import CLOSE_JOB, RETENTION_JOB, ClosedDay
from domain.ports.market_day import MarketDayStore

_LAST_RUN = "SELECT max(day) FROM job_runs WHERE job = %s"
# The run's row first: a second delivery for the same day stops here (and waits for the first to commit).
_CLAIM = "INSERT INTO job_runs (job, day, outcome) VALUES (%s, %s, 0) ON CONFLICT (job, day) DO NOTHING RETURNING day"
_OUTCOME = "UPDATE job_runs SET outcome = %s WHERE job = %s AND day = %s"
_LOCK_INGEST = "SELECT pg_advisory_xact_lock(%s)"
# The close is the last quote's price; a day already recorded (demo history, a close run by hand) is replaced.
_RECORD_CLOSES = """
INSERT INTO daily_prices (instrument_id, day, close)
SELECT instrument_id, %s, price FROM quotes
ON CONFLICT (instrument_id, day) DO UPDATE SET close = excluded.close
"""
_ROLL = """
UPDATE quotes SET previous_close = price, day_high = price, day_low = price, volume = 0
WHERE previous_close <> price OR day_high <> price OR day_low <> price OR volume <> 0
"""
_PUBLISH = "INSERT INTO quote_versions (quotes) VALUES (%s) RETURNING version"
_PURGE = "DELETE FROM reports WHERE status IN ('succeeded', 'failed', 'cancelled') AND created_at < %s"
name_queries({
    _LAST_RUN: "market_day.last_run", _CLAIM: "market_day.claim", _OUTCOME: "market_day.outcome",
    _RECORD_CLOSES: "market_day.record_closes", _ROLL: "market_day.roll", _PURGE: "market_day.purge_reports",
})  # fmt: skip


async def claim_run(conn: AsyncConnection, job: str, day: date) -> bool:
    cur = await conn.execute(_CLAIM, (job, day), prepare=True)
    return await cur.fetchone() is not None


class PostgresMarketDayStore(MarketDayStore):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def last_run(self, job: str) -> date | None:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_LAST_RUN, (job,), prepare=True)
            row = await cur.fetchone()
        return row[0] if row else None

    async def close_day(self, day: date, *, audit: AuditEntry) -> ClosedDay | None:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            if not await claim_run(conn, CLOSE_JOB, day):
                return None
            # Serialised with quote ingests: the closes are the prices of one published version.
            await conn.execute(_LOCK_INGEST, (INGEST_LOCK,), prepare=True)
            cur = await conn.execute(_RECORD_CLOSES, (day,), prepare=True)
            closes = cur.rowcount
            # A day's closes change its value, and a past day's (a clock catching up) every later day's.
            await invalidate_from(conn, day)
            cur = await conn.execute(_ROLL, prepare=True)
            cur = await conn.execute(_PUBLISH, (cur.rowcount,), prepare=True)
            row = await cur.fetchone()
            assert row is not None
            await conn.execute(_OUTCOME, (closes, CLOSE_JOB, day), prepare=True)
            version = int(row[0])
            await append_audit(conn, audit.completed(closes=closes, version=version))
        return ClosedDay(closes=closes, version=version)

    async def purge_reports(self, day: date, *, before: datetime, audit: AuditEntry) -> int | None:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            if not await claim_run(conn, RETENTION_JOB, day):
                return None
            cur = await conn.execute(_PURGE, (before,), prepare=True)
            deleted = cur.rowcount
            await conn.execute(_OUTCOME, (deleted, RETENTION_JOB, day), prepare=True)
            await append_audit(conn, audit.completed(deleted=deleted, before=before.isoformat()))
        return deleted
