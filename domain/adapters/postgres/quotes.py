"""PostgreSQL quotes: the published version, the full snapshot behind it, ingest and daily closes."""

from collections.abc import Sequence

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.pool import connection, name_queries
from domain.errors import UnknownSymbolError
from domain.models.audit import AuditEntry
from domain.models.quotes import DailyClose, Instrument, Quote, QuoteSnapshot, QuoteUpdate, build_snapshot
from domain.ports.quotes import QuoteRepository

_VERSION = "SELECT coalesce(max(version), 0) FROM quote_versions"
_SNAPSHOT = """
SELECT i.id, i.symbol, i.name, i.asset_class, i.currency, i.exchange,
       q.price, q.bid, q.ask, q.previous_close, q.day_high, q.day_low, q.volume, q.as_of
FROM instruments i
LEFT JOIN quotes q ON q.instrument_id = i.id
"""
# Ingests take this transaction-level lock, so versions commit in the order they were numbered
# (a follower that saw version n never misses a later commit of n - 1). Spells "QUOTEVER".
INGEST_LOCK = 0x51554F5445564552
_IDS = "SELECT symbol, id FROM instruments WHERE symbol = ANY(%s)"
# A missing bid/ask keeps the quote's relative spread, on the price's own decimals (at least 2: a feed
# quotes bid and ask on the tick, and 8 decimals of rounding noise cost the compressed market data
# two points of its size); the ask never falls below the bid.
_UPSERT = """
WITH u AS (
    SELECT * FROM unnest(%s::int[], %s::numeric[], %s::numeric[], %s::numeric[], %s::bigint[])
        AS u(instrument_id, price, bid, ask, volume)
), priced AS (
    SELECT u.instrument_id, u.price,
           coalesce(u.bid, round(u.price * q.bid / q.price, greatest(scale(u.price), 2)), u.price) AS bid,
           coalesce(u.ask, round(u.price * q.ask / q.price, greatest(scale(u.price), 2)), u.price) AS ask,
           coalesce(q.previous_close, u.price) AS previous_close,
           greatest(q.day_high, u.price) AS day_high,
           least(q.day_low, u.price) AS day_low,
           coalesce(u.volume, q.volume, 0) AS volume
    FROM u LEFT JOIN quotes q ON q.instrument_id = u.instrument_id
)
INSERT INTO quotes (instrument_id, price, bid, ask, previous_close, day_high, day_low, volume, as_of)
SELECT instrument_id, price, round(bid, 8), greatest(round(ask, 8), round(bid, 8)), previous_close,
       day_high, day_low, volume, now()
FROM priced
ON CONFLICT (instrument_id) DO UPDATE SET
    price = excluded.price, bid = excluded.bid, ask = excluded.ask, day_high = excluded.day_high,
    day_low = excluded.day_low, volume = excluded.volume, as_of = excluded.as_of
"""
_PUBLISH = "INSERT INTO quote_versions (quotes) VALUES (%s) RETURNING version"
_CLOSES = "SELECT day, close FROM daily_prices WHERE instrument_id = %s ORDER BY day DESC LIMIT %s"
# One round trip for a report's holdings; each lateral subquery walks the primary key backwards.
_CLOSES_MANY = """
SELECT i.id, d.day, d.close
FROM unnest(%s::int[]) AS i(id)
CROSS JOIN LATERAL (
    SELECT day, close FROM daily_prices WHERE instrument_id = i.id ORDER BY day DESC LIMIT %s
) d
ORDER BY i.id, d.day
"""

_REPEATABLE_READ = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
_LOCK_INGEST = "SELECT pg_advisory_xact_lock(%s)"
name_queries({
    _VERSION: "quotes.version", _SNAPSHOT: "quotes.snapshot", _REPEATABLE_READ: "quotes.snapshot_isolation",
    _LOCK_INGEST: "quotes.ingest_lock", _IDS: "quotes.instrument_ids", _UPSERT: "quotes.upsert",
    _PUBLISH: "quotes.publish", _CLOSES: "quotes.closes", _CLOSES_MANY: "quotes.closes_many",
})  # fmt: skip


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
            await conn.execute(_REPEATABLE_READ)
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

    async def apply_quotes(self, updates: Sequence[QuoteUpdate], *, audit: AuditEntry) -> int:
        symbols = [u.symbol for u in updates]
        async with connection(self._pool, write=True) as conn, conn.transaction():
            await conn.execute(_LOCK_INGEST, (INGEST_LOCK,), prepare=True)
            cur = await conn.execute(_IDS, (symbols,), prepare=True)
            ids: dict[str, int] = dict(await cur.fetchall())
            for i, symbol in enumerate(symbols):
                if symbol not in ids:
                    raise UnknownSymbolError(symbol, field=f"quotes[{i}].symbol")
            columns = (
                [ids[s] for s in symbols],
                [u.price for u in updates],
                [u.bid for u in updates],
                [u.ask for u in updates],
                [u.volume for u in updates],
            )
            await conn.execute(_UPSERT, columns, prepare=True)
            cur = await conn.execute(_PUBLISH, (len(updates),), prepare=True)
            row = await cur.fetchone()
            assert row is not None
            await append_audit(conn, audit.completed(version=int(row[0])))
        return int(row[0])

    async def daily_closes(self, instrument_id: int, days: int) -> tuple[DailyClose, ...]:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_CLOSES, (instrument_id, days), prepare=True)
            rows = await cur.fetchall()
        return tuple(DailyClose(day=day, close=close) for day, close in reversed(rows))

    async def daily_closes_many(self, instrument_ids: Sequence[int], days: int) -> dict[int, tuple[DailyClose, ...]]:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_CLOSES_MANY, (list(instrument_ids), days), prepare=True)
            rows = await cur.fetchall()
        closes: dict[int, list[DailyClose]] = {}
        for instrument_id, day, close in rows:
            closes.setdefault(instrument_id, []).append(DailyClose(day=day, close=close))
        return {k: tuple(v) for k, v in closes.items()}
