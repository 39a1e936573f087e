"""PostgreSQL quotes: the published version and the full snapshot behind it."""

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection
from domain.models import Instrument, Quote, QuoteSnapshot, build_snapshot
from domain.ports import QuoteRepository

_VERSION = "SELECT coalesce(max(version), 0) FROM quote_versions"
_SNAPSHOT = """
SELECT i.id, i.symbol, i.name, i.asset_class, i.currency, i.exchange,
       q.price, q.bid, q.ask, q.previous_close, q.day_high, q.day_low, q.volume, q.as_of
FROM instruments i
LEFT JOIN quotes q ON q.instrument_id = i.id
"""


class PostgresQuoteRepository(QuoteRepository):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def latest_version(self) -> int:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_VERSION, prepare=True)
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def load_snapshot(self, base_currency: str) -> QuoteSnapshot:
        # Version and rows are read in one repeatable-read transaction so they agree.
        async with connection(self._pool) as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur = await conn.execute(_VERSION)
            row = await cur.fetchone()
            version = int(row[0]) if row else 0
            cur = await conn.execute(_SNAPSHOT)
            rows = await cur.fetchall()
        instruments: dict[int, Instrument] = {}
        quotes: dict[int, Quote] = {}
        for r in rows:
            instruments[r[0]] = Instrument(
                id=r[0], symbol=r[1], name=r[2], asset_class=r[3], currency=r[4].strip(), exchange=r[5]
            )
            if r[6] is not None:
                quotes[r[0]] = Quote(
                    instrument_id=r[0],
                    price=r[6],
                    bid=r[7],
                    ask=r[8],
                    previous_close=r[9],
                    day_high=r[10],
                    day_low=r[11],
                    volume=r[12],
                    as_of=r[13],
                )
        return build_snapshot(version, instruments, quotes, base_currency)
