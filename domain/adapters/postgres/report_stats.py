"""Report counts per status, for the metrics: one GROUP BY on the (status, created_at) index."""

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection, name_queries
from domain.ports.reports import ReportStatistics

_COUNTS = "SELECT status, count(*) FROM reports GROUP BY status"
name_queries({_COUNTS: "reports.counts"})


class PostgresReportStatistics(ReportStatistics):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def counts(self) -> dict[str, int]:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_COUNTS, prepare=True)
            rows = await cur.fetchall()
        return {str(status): int(count) for status, count in rows}
