"""PostgreSQL daily values: each user's value at the close of each valuation day, computed set-based and stored
(`daily_values`), with how far each user's stored days go (`daily_value_marks`, migration 0010).

The valuation days are the market's days: those with a recorded close (`daily_prices`) of an instrument the
user traded or of a currency (`CASH-XXX`), from the first day the user had a trade or a ledger entry. On each
day the holdings are the running sum of the user's trades executed up to that day's end (UTC), plus any holding
the trades do not explain (a lot loaded with its opening cash) from the first day, each priced at its latest
close on or before the day (the live quote before its first close), in the instrument's currency; the cash per
currency is the running sum of the user's cash postings booked up to the day's end. Both are converted into
the base currency at the day's rate: the latest close of the currency's `CASH-XXX` instrument over that of the
base currency's (as the live quotes are, `domain.models.quotes.build_snapshot`). A currency without a cash
instrument counts at par.

A user's stored days are right up to its mark's `through`, less any day on or after that of a trade or ledger
entry booked after the mark was written (`MARK` sees those by their ids: a past-dated import needs no call).
Whatever else rewrites past days (a close recorded for a past day, a split) calls `invalidate_from`. A fill holds
the users' rows (as a booking does), so no booking commits between the values it reads and the ids it records.
"""

from datetime import date

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.performance_pasts import store_pasts
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.valuations import MARK, RATES
from domain.ports.daily_values import DailyValueStore

# Fills share it; an invalidation takes it alone, so a fill in flight cannot store days it moved back.
DAILY_VALUES_LOCK = 0x4441494C5956414C
FILL_BATCH = 200  # users per transaction when filling everyone: a booking waits at most for one batch

# Needs `targets (user_id, after)`: `computed (user_id, day, value)` is each target's valuation days in
# (after, %(until)s]. Set-based over any number of users; read by keys (OFFSET 0 keeps the planner from a scan
# of every user's postings or every instrument's closes).
COMPUTE = f"""
trades_all AS (
    SELECT t.user_id, t.instrument_id, (t.executed_at AT TIME ZONE 'UTC')::date AS day,
           sum(CASE t.side WHEN 'buy' THEN t.adjusted_quantity ELSE -t.adjusted_quantity END) AS quantity
    FROM targets u JOIN trades_adjusted t ON t.user_id = u.user_id GROUP BY 1, 2, 3
),
first_day AS (
    SELECT user_id, min(day) AS day
    FROM (SELECT user_id, day FROM trades_all
          UNION ALL
          SELECT u.user_id, (SELECT (min(e.booked_at) AT TIME ZONE 'UTC')::date FROM ledger_entries e
                             WHERE e.user_id = u.user_id) FROM targets u) AS s
    WHERE day IS NOT NULL GROUP BY 1
),
-- Holdings no trade explains (lots loaded with their opening cash, not traded here): held from the first day.
opening AS (
    SELECT h.user_id, h.instrument_id, f.day, h.quantity - coalesce(sum(a.quantity), 0) AS quantity
    FROM first_day f JOIN holdings h ON h.user_id = f.user_id
         LEFT JOIN trades_all a ON a.user_id = h.user_id AND a.instrument_id = h.instrument_id
    GROUP BY h.user_id, h.instrument_id, f.day, h.quantity
),
trade_days AS (
    SELECT user_id, instrument_id, day, quantity FROM trades_all WHERE day <= %(until)s::date
    UNION ALL
    SELECT user_id, instrument_id, day, quantity FROM opening WHERE quantity <> 0
),
cash_days AS (
    SELECT e.user_id, p.currency::text AS currency, (e.booked_at AT TIME ZONE 'UTC')::date AS day,
           sum(p.amount) AS amount
    FROM targets u JOIN ledger_entries e ON e.user_id = u.user_id,
         LATERAL (SELECT q.currency, q.amount FROM ledger_postings q
                  WHERE q.entry_id = e.id AND q.account = 'cash' OFFSET 0) AS p
    WHERE e.booked_at < (%(until)s::date + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1, 2, 3
),
currencies AS (SELECT id FROM instruments WHERE asset_class = 'cash' AND symbol LIKE 'CASH-%%'),
bounds AS (SELECT t.user_id, greatest(t.after, f.day - 1) AS after FROM targets t JOIN first_day f USING (user_id)),
closes_of AS (
    SELECT ids.id AS instrument_id, c.day
    FROM (SELECT instrument_id FROM trade_days UNION SELECT id FROM currencies) AS ids (id),
         LATERAL (SELECT c.day FROM daily_prices c WHERE c.instrument_id = ids.id
                  AND c.day > (SELECT min(after) FROM bounds) AND c.day <= %(until)s::date OFFSET 0) AS c
),
market AS (SELECT DISTINCT day FROM closes_of WHERE instrument_id IN (SELECT id FROM currencies)),
-- Each user's days: every currency's close day, and any other day one of its instruments closed.
user_days AS (
    SELECT b.user_id, m.day FROM bounds b JOIN market m ON m.day > b.after
    UNION
    SELECT b.user_id, c.day
    FROM (SELECT DISTINCT user_id, instrument_id FROM trade_days) AS h JOIN bounds b USING (user_id)
         JOIN closes_of c ON c.instrument_id = h.instrument_id AND c.day > b.after
    WHERE NOT EXISTS (SELECT FROM market m WHERE m.day = c.day)
),
days AS (SELECT DISTINCT day FROM user_days),
rated AS (SELECT id FROM currencies),
{RATES},
-- Each holding's quantity from each day it changed until its next change.
steps AS (
    SELECT user_id, instrument_id, day, sum(quantity) OVER w AS quantity, lead(day) OVER w AS next
    FROM (SELECT user_id, instrument_id, day, sum(quantity) AS quantity FROM trade_days GROUP BY 1, 2, 3) AS s
    WINDOW w AS (PARTITION BY user_id, instrument_id ORDER BY day)
),
held AS (
    SELECT d.user_id, d.day, s.instrument_id, s.quantity
    FROM user_days d JOIN steps s ON s.user_id = d.user_id AND s.day <= d.day AND (s.next IS NULL OR s.next > d.day)
    WHERE s.quantity <> 0
),
-- Each held instrument's latest close on or before the day (the live quote before its first close), by key:
-- a join to the closes would scan all of them once hash joins are the only ones (see _HASH_JOINS).
prices AS (
    SELECT p.instrument_id, p.day,
           coalesce((SELECT c.close FROM daily_prices c WHERE c.instrument_id = p.instrument_id AND c.day <= p.day
                     ORDER BY c.day DESC LIMIT 1), q.price) AS price
    FROM (SELECT DISTINCT instrument_id, day FROM held) AS p LEFT JOIN quotes q ON q.instrument_id = p.instrument_id
),
lines AS (
    SELECT h.user_id, h.day, i.currency::text AS currency, h.quantity * p.price AS amount
    FROM held h JOIN prices p ON p.instrument_id = h.instrument_id AND p.day = h.day
         JOIN instruments i ON i.id = h.instrument_id
    UNION ALL
    SELECT d.user_id, d.day, c.currency, sum(c.amount)
    FROM user_days d JOIN cash_days c ON c.user_id = d.user_id AND c.day <= d.day GROUP BY 1, 2, 3
),
computed AS (
    SELECT d.user_id, d.day, round(coalesce(sum(l.amount * coalesce(r.rate, 1)), 0), 8) AS value
    FROM user_days d LEFT JOIN lines l ON l.user_id = d.user_id AND l.day = d.day
         LEFT JOIN to_base r ON r.day = l.day AND r.currency = l.currency
    GROUP BY 1, 2
)
"""  # noqa: S608 - constant text
_SHARED = "SELECT pg_advisory_xact_lock_shared(%s)"
_TIMEOUT = "SELECT set_config('statement_timeout', %s, true)"
# The planner cannot estimate the CTEs' sizes (a year of days x holdings), and a nested loop over them is
# quadratic: a year of one user's days took 29 s with it, 0.5 s with hash joins. Set for the fill's transaction.
_HASH_JOINS = "SELECT set_config('enable_nestloop', 'off', true)"
_EXCLUSIVE = "SELECT pg_advisory_xact_lock(%s)"
# The users to fill, held as a booking holds them; then those whose stored days stop before today, or whose
# performance pasts were not stored today (`performance_pasts`).
_HOLD_ALL = "SELECT id FROM users WHERE erased_at IS NULL AND id > %s ORDER BY id LIMIT %s FOR NO KEY UPDATE"
# The users whose days were read once (those with a mark): the close job keeps only theirs up to date, a
# day each; anyone else's are computed on their first read.
_HOLD_READERS = """
SELECT u.id FROM users u JOIN daily_value_marks m ON m.user_id = u.id
WHERE u.erased_at IS NULL AND u.id > %s ORDER BY u.id LIMIT %s FOR NO KEY UPDATE OF u
"""
_HOLD_ONE = "SELECT id FROM users WHERE erased_at IS NULL AND id = %s FOR NO KEY UPDATE"
_STALE = f"""
SELECT u.id, k.through, (now() AT TIME ZONE 'UTC')::date
FROM unnest(%s::bigint[]) AS u (id) LEFT JOIN LATERAL ({MARK} WHERE m.user_id = u.id) AS k ON true
WHERE k.through IS NULL OR k.through < (now() AT TIME ZONE 'UTC')::date
   OR NOT EXISTS (SELECT FROM performance_pasts p
                  WHERE p.user_id = u.id AND p.through = (now() AT TIME ZONE 'UTC')::date)
"""  # noqa: S608 - constant text
_CLEAR = """
DELETE FROM daily_values v USING unnest(%s::bigint[], %s::date[]) AS t (user_id, after)
WHERE v.user_id = t.user_id AND v.day > coalesce(t.after, '-infinity')
"""
_FILL = f"""
WITH targets AS (
    SELECT user_id, coalesce(after, '-infinity') AS after
    FROM unnest(%(users)s::bigint[], %(afters)s::date[]) AS t (user_id, after)
),
{COMPUTE},
stored AS (INSERT INTO daily_values (user_id, day, value) SELECT user_id, day, value FROM computed)
INSERT INTO daily_value_marks (user_id, through, ledger_entry, trade)
SELECT t.user_id, %(until)s::date,
       coalesce((SELECT max(e.id) FROM ledger_entries e WHERE e.user_id = t.user_id), 0),
       coalesce((SELECT max(r.id) FROM trades r WHERE r.user_id = t.user_id), 0)
FROM targets t
ON CONFLICT (user_id) DO UPDATE
SET through = excluded.through, ledger_entry = excluded.ledger_entry, trade = excluded.trade
"""  # noqa: S608 - constant text
_INVALIDATE_ALL = "UPDATE daily_value_marks SET through = %(day)s::date - 1 WHERE through >= %(day)s::date"
_INVALIDATE_ONE = f"{_INVALIDATE_ALL} AND user_id = %(user)s"
name_queries({
    _SHARED: "daily_values.lock", _EXCLUSIVE: "daily_values.lock", _TIMEOUT: "daily_values.timeout",
    _HASH_JOINS: "daily_values.plan",
    _HOLD_ALL: "daily_values.hold", _HOLD_ONE: "daily_values.hold", _HOLD_READERS: "daily_values.hold",
    _STALE: "daily_values.stale", _CLEAR: "daily_values.clear", _FILL: "daily_values.fill",
    _INVALIDATE_ALL: "daily_values.invalidate", _INVALIDATE_ONE: "daily_values.invalidate",
})  # fmt: skip


async def invalidate_from(conn: AsyncConnection, day: date, user_id: int | None = None) -> int:
    """In `conn`'s open transaction: the stored days of `user_id` (None: every user) from `day` on are no longer
    right (the caller rewrote them); the next fill computes them again. Returns the users whose days moved back."""
    await conn.execute(_EXCLUSIVE, (DAILY_VALUES_LOCK,), prepare=True)
    statement = _INVALIDATE_ALL if user_id is None else _INVALIDATE_ONE
    cur = await conn.execute(statement, {"day": day, "user": user_id}, prepare=True)
    return cur.rowcount


async def _fill_batch(
    conn: AsyncConnection, base: str, user_id: int | None, after_id: int, deadline_s: float | None, hold_all: str
) -> tuple[int, int | None]:
    """Fill one batch of users (ids above `after_id`) up to today: (users filled, last id held or None)."""
    if deadline_s is not None:  # the statements may take the batch's whole deadline, not a request's
        await conn.execute(_TIMEOUT, (f"{int(deadline_s * 1000)}ms",), prepare=True)
    await conn.execute(_SHARED, (DAILY_VALUES_LOCK,), prepare=True)
    if user_id is None:
        cur = await conn.execute(hold_all, (after_id, FILL_BATCH), prepare=True)
    else:
        cur = await conn.execute(_HOLD_ONE, (user_id,), prepare=True)
    held = [row[0] for row in await cur.fetchall()]
    if not held:
        return 0, None
    # Read after the rows are held: every booking of these users is committed and no other can start.
    stale = await (await conn.execute(_STALE, (held,), prepare=True)).fetchall()
    if stale:
        users, afters = [r[0] for r in stale], [r[1] for r in stale]
        await conn.execute(_HASH_JOINS, prepare=True)
        await conn.execute(_CLEAR, (users, afters), prepare=True)
        fill = {"users": users, "afters": afters, "until": stale[0][2], "base": base}
        await conn.execute(_FILL, fill, prepare=user_id is not None)
        await store_pasts(conn, users, stale[0][2], base)
    return len(stale), held[-1]


class PostgresDailyValues(DailyValueStore):
    def __init__(self, pool: AsyncConnectionPool, base_currency: str, *, deadline_s: float | None = None) -> None:
        self._pool = pool
        self._base = base_currency
        self._deadline_s = deadline_s  # per batch; None: the pool's write deadline

    async def fill(self, user_id: int | None = None, *, readers_only: bool = False) -> int:
        hold_all = _HOLD_READERS if readers_only else _HOLD_ALL
        filled, after_id = 0, 0
        while True:
            async with connection(self._pool, write=True, deadline_s=self._deadline_s) as conn, conn.transaction():
                count, last = await _fill_batch(conn, self._base, user_id, after_id, self._deadline_s, hold_all)
            filled += count
            if last is None or user_id is not None:
                return filled
            after_id = last

    async def invalidate_from(self, day: date, user_id: int | None = None) -> int:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            return await invalidate_from(conn, day, user_id)
