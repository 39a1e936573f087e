"""Report counts per status and the oldest queued report's wait, for the metrics and the workers' scaler: each
one statement on the (status, created_at) index."""

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection, name_queries
from domain.ports.reports import ReportStatistics

_COUNTS = "SELECT status, count(*) FROM reports GROUP BY status"
_OLDEST_QUEUED = "SELECT extract(epoch FROM now() - min(created_at)) FROM reports WHERE status = 'queued'"
name_queries({_COUNTS: "reports.counts", _OLDEST_QUEUED: "reports.oldest_queued"})


class PostgresReportStatistics(ReportStatistics):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def counts(self) -> dict[str, int]:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_COUNTS, prepare=True)
            rows = await cur.fetchall()
        return {str(status): int(count) for status, count in rows}

    async def oldest_queued_age_s(self) -> float:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_OLDEST_QUEUED, prepare=True)
            row = await cur.fetchone()
        age = None if row is None else row[0]
        return 0.0 if age is None else max(float(age), 0.0)
