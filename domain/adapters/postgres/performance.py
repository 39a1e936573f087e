"""PostgreSQL value history: a user's daily values rebuilt from trades, closes and the cash ledger, in SQL.

The valuation days are the market's days: those with a recorded close (`daily_prices`) in the period of
an instrument the user traded or of a currency (`CASH-XXX`), from the first day the user had a trade or a
ledger entry. On each day the holdings are the running sum
of the user's trades executed up to that day's end (UTC), plus any holding the trades do not explain (a
lot loaded with its opening cash) from the first day, each priced at its latest close on or before
the day (the live quote before its first close), in the instrument's currency; the cash per currency is
the running sum of the user's cash postings booked up to the day's end. Both are converted into the base
currency at the day's rate: the latest close of the currency's `CASH-XXX` instrument over that of the base
currency's (as the live quotes are, `domain.models.quotes.build_snapshot`). A currency without a cash
instrument counts at par. Everything is one statement per read, set-based (a series of days joined to
cumulative sums), and the values and the flows are read in one repeatable-read snapshot.
"""

from datetime import date

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection, name_queries
from domain.errors import UnknownSymbolError, UserNotFoundError
from domain.models.market_day import CLOSE_JOB
from domain.models.performance import DailyValue, ExternalFlow, HistoryVersion, ValueHistory
from domain.ports.performance import ValueHistorySource

_USER = "SELECT erased_at FROM users WHERE id = %s"
_REPEATABLE = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"

# The day's rate of each currency into the base currency (a currency's latest close on or before the day,
# the live quote before its first close), over the same of the base currency.
_RATES = """
rates AS (
    SELECT d.day, substr(i.symbol, 6) AS currency,
           coalesce((SELECT dp.close FROM daily_prices dp
                     WHERE dp.instrument_id = i.id AND dp.day <= d.day ORDER BY dp.day DESC LIMIT 1), q.price) AS rate
    FROM days d CROSS JOIN instruments i LEFT JOIN quotes q ON q.instrument_id = i.id
    WHERE i.asset_class = 'cash' AND i.symbol LIKE 'CASH-%%'
),
to_base AS (
    SELECT r.day, r.currency,
           CASE WHEN r.currency = %(base)s THEN 1 ELSE r.rate / coalesce(b.rate, 1) END AS rate
    FROM rates r LEFT JOIN rates b ON b.day = r.day AND b.currency = %(base)s
)
"""
_VALUES = f"""
WITH trades_all AS (
    SELECT instrument_id, (executed_at AT TIME ZONE 'UTC')::date AS day,
           sum(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) AS quantity
    FROM trades WHERE user_id = %(user)s GROUP BY 1, 2
),
first_day AS (
    SELECT least((SELECT min(day) FROM trades_all),
                 (SELECT (min(booked_at) AT TIME ZONE 'UTC')::date FROM ledger_entries WHERE user_id = %(user)s)) AS day
),
-- Holdings no trade explains (lots loaded with their opening cash, not traded here): held from the first day.
opening AS (
    SELECT h.instrument_id, f.day,
           h.quantity - coalesce((SELECT sum(t.quantity) FROM trades_all t WHERE t.instrument_id = h.instrument_id), 0)
           AS quantity
    FROM holdings h, first_day f WHERE h.user_id = %(user)s AND f.day IS NOT NULL
),
trade_days AS (
    SELECT instrument_id, day, quantity FROM trades_all WHERE day <= %(until)s::date
    UNION ALL
    SELECT instrument_id, day, quantity FROM opening WHERE quantity <> 0
),
cash_days AS (
    SELECT p.currency::text AS currency, (e.booked_at AT TIME ZONE 'UTC')::date AS day, sum(p.amount) AS amount
    FROM ledger_entries e,
         -- each entry's postings by its key (OFFSET 0 keeps the planner from a scan of every user's postings)
         LATERAL (SELECT q.currency, q.amount FROM ledger_postings q
                  WHERE q.entry_id = e.id AND q.account = 'cash' OFFSET 0) AS p
    WHERE e.user_id = %(user)s AND e.booked_at < (%(until)s::date + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1, 2
),
-- The market days: those with a close of an instrument the user held or of a currency, read by the closes'
-- primary key per instrument (OFFSET 0 keeps the planner from a scan of every instrument's history).
days AS (
    SELECT DISTINCT dp.day
    FROM first_day f,
         (SELECT instrument_id FROM trade_days
          UNION SELECT id FROM instruments WHERE asset_class = 'cash' AND symbol LIKE 'CASH-%%') AS ids (id),
         LATERAL (SELECT c.day FROM daily_prices c WHERE c.instrument_id = ids.id
                  AND c.day BETWEEN greatest(%(since)s::date, f.day) AND %(until)s::date OFFSET 0) AS dp
    WHERE f.day IS NOT NULL
),
{_RATES},
held AS (
    SELECT d.day, t.instrument_id, sum(t.quantity) AS quantity
    FROM days d JOIN trade_days t ON t.day <= d.day GROUP BY 1, 2 HAVING sum(t.quantity) <> 0
),
lines AS (
    SELECT h.day, i.currency::text AS currency,
           h.quantity * coalesce((SELECT dp.close FROM daily_prices dp WHERE dp.instrument_id = h.instrument_id
                                  AND dp.day <= h.day ORDER BY dp.day DESC LIMIT 1), q.price) AS amount
    FROM held h JOIN instruments i ON i.id = h.instrument_id LEFT JOIN quotes q ON q.instrument_id = h.instrument_id
    UNION ALL
    SELECT d.day, c.currency, sum(c.amount) FROM days d JOIN cash_days c ON c.day <= d.day GROUP BY 1, 2
)
SELECT d.day, round(coalesce(sum(l.amount * coalesce(r.rate, 1)), 0), 8)
FROM days d LEFT JOIN lines l ON l.day = d.day LEFT JOIN to_base r ON r.day = l.day AND r.currency = l.currency
GROUP BY d.day ORDER BY d.day
"""  # noqa: S608 - constant text
# Deposits and withdrawals, each at its day's rate; a trade, a fee or an fx entry is the portfolio's own doing.
_FLOWS = f"""
WITH flows AS (
    SELECT e.id, (e.booked_at AT TIME ZONE 'UTC')::date AS day, p.currency::text AS currency, p.amount
    FROM ledger_entries e,
         LATERAL (SELECT q.currency, q.amount FROM ledger_postings q
                  WHERE q.entry_id = e.id AND q.account = 'cash' OFFSET 0) AS p
    WHERE e.user_id = %(user)s AND e.kind IN ('deposit', 'withdrawal')
      AND e.booked_at >= %(since)s::timestamp AT TIME ZONE 'UTC'
      AND e.booked_at < (%(until)s::date + 1)::timestamp AT TIME ZONE 'UTC'
),
days AS (SELECT DISTINCT day FROM flows),
{_RATES}
SELECT f.day, round(f.amount * coalesce(r.rate, 1), 8)
FROM flows f LEFT JOIN to_base r ON r.day = f.day AND r.currency = f.currency
ORDER BY f.day, f.id
"""  # noqa: S608 - constant text
_VERSION = """
SELECT (SELECT max(day) FROM job_runs WHERE job = %(job)s),
       coalesce((SELECT max(id) FROM ledger_entries WHERE user_id = %(user)s), 0),
       coalesce((SELECT max(id) FROM trades WHERE user_id = %(user)s), 0)
"""
_INSTRUMENT = "SELECT id FROM instruments WHERE symbol = %s"
_CLOSES = "SELECT day, close FROM daily_prices WHERE instrument_id = %s AND day BETWEEN %s AND %s ORDER BY day"
name_queries({
    _USER: "performance.user", _VALUES: "performance.values", _FLOWS: "performance.flows",
    _VERSION: "performance.version", _INSTRUMENT: "performance.instrument", _CLOSES: "performance.closes",
})  # fmt: skip


class PostgresValueHistory(ValueHistorySource):
    def __init__(self, pool: AsyncConnectionPool, base_currency: str) -> None:
        self._pool = pool
        self._base = base_currency

    async def history(self, user_id: int, since: date, until: date) -> ValueHistory:
        params = {"user": user_id, "since": since, "until": until, "base": self._base}
        async with connection(self._pool) as conn, conn.transaction():
            # One snapshot for both reads: a deposit committed between them would count in one and not the other.
            await conn.execute(_REPEATABLE)
            await _check_user(conn, user_id)
            values = await (await conn.execute(_VALUES, params, prepare=True)).fetchall()
            flows = await (await conn.execute(_FLOWS, params, prepare=True)).fetchall()
        return ValueHistory(
            values=tuple(DailyValue(day=d, value=v) for d, v in values),
            flows=tuple(ExternalFlow(day=d, amount=a) for d, a in flows),
        )

    async def version(self, user_id: int) -> HistoryVersion:
        async with connection(self._pool) as conn:
            await _check_user(conn, user_id)
            cur = await conn.execute(_VERSION, {"job": CLOSE_JOB, "user": user_id}, prepare=True)
            last_close, entry, trade = await cur.fetchone() or (None, 0, 0)
        return HistoryVersion(last_close=last_close, ledger_entry=entry, trade=trade)

    async def closes(self, symbol: str, since: date, until: date) -> tuple[DailyValue, ...]:
        async with connection(self._pool) as conn:
            found = await (await conn.execute(_INSTRUMENT, (symbol,), prepare=True)).fetchone()
            if found is None:
                raise UnknownSymbolError(symbol, field="benchmark")
            rows = await (await conn.execute(_CLOSES, (found[0], since, until), prepare=True)).fetchall()
        return tuple(DailyValue(day=d, value=c) for d, c in rows)


async def _check_user(conn: AsyncConnection, user_id: int) -> None:
    row = await (await conn.execute(_USER, (user_id,), prepare=True)).fetchone()
    if row is None or row[0] is not None:
        raise UserNotFoundError(user_id)
