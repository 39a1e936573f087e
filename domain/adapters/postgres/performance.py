"""PostgreSQL value history: a user's daily values (`domain.adapters.postgres.daily_values` says how each day is
valued), read from those stored up to the user's mark in one statement with the flows (one snapshot). A read
that finds days missing before yesterday (a user created after the last close, a clock that was down, a
past-dated import) stores them first, once, set-based. A day closed after the mark (today's, for a user who
booked after the close job stored it) is computed in the same repeatable-read snapshot as the flows.
"""

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.daily_values import COMPUTE, PostgresDailyValues
from domain.adapters.postgres.performance_pasts import PAST, decode_past
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.valuations import MARK, RATES
from domain.errors import DatabaseUnavailableError, UnknownSymbolError, UserNotFoundError
from domain.models.market_day import CLOSE_JOB
from domain.models.performance import DailyValue, ExternalFlow, HistoryVersion, StoredPast, ValueHistory
from domain.ports.performance import ValueHistorySource

log = logging.getLogger("folio.performance")

_REPEATABLE = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
# Deposits and withdrawals in [since, until], each at its day's rate (a trade, a fee or an fx entry is the
# portfolio's own doing); the rates read for their currencies and the base currency only.
_FLOW_ROWS = f"""
flows AS (
    SELECT e.id, (e.booked_at AT TIME ZONE 'UTC')::date AS day, p.currency::text AS currency, p.amount
    FROM ledger_entries e,
         LATERAL (SELECT q.currency, q.amount FROM ledger_postings q
                  WHERE q.entry_id = e.id AND q.account = 'cash' OFFSET 0) AS p
    WHERE e.user_id = %(user)s AND e.kind IN ('deposit', 'withdrawal')
      AND e.booked_at >= %(since)s::timestamp AT TIME ZONE 'UTC'
      AND e.booked_at < (%(until)s::date + 1)::timestamp AT TIME ZONE 'UTC'
),
days AS (SELECT DISTINCT day FROM flows),
rated AS (
    SELECT i.id FROM instruments i
    WHERE i.symbol IN (SELECT 'CASH-' || currency FROM flows UNION SELECT 'CASH-' || %(base)s)
),
{RATES}
"""  # noqa: S608 - constant text
_FLOWS = f"""
WITH {_FLOW_ROWS}
SELECT f.day, round(f.amount * coalesce(r.rate, 1), 8)
FROM flows f LEFT JOIN to_base r ON r.day = f.day AND r.currency = f.currency
ORDER BY f.day, f.id
"""  # noqa: S608 - constant text
# One statement, one snapshot: a first row (kind 0, only for a user not erased) with how far its stored days
# go, today (UTC) and the last close the close job recorded; then its stored days (1) and its flows (2).
_STORED = f"""
WITH mark AS ({MARK} WHERE m.user_id = %(user)s),
{_FLOW_ROWS}
SELECT 0 AS kind, (SELECT through FROM mark) AS day, NULL::numeric AS amount, 0::bigint AS id,
       (now() AT TIME ZONE 'UTC')::date AS today, (SELECT max(day) FROM job_runs WHERE job = %(job)s) AS closed
FROM users u WHERE u.id = %(user)s AND u.erased_at IS NULL
UNION ALL
SELECT 1, v.day, v.value, 0, NULL, NULL FROM daily_values v, mark m
WHERE v.user_id = %(user)s AND v.day BETWEEN %(since)s::date AND %(until)s::date AND v.day <= m.through
UNION ALL
SELECT 2, f.day, round(f.amount * coalesce(r.rate, 1), 8), f.id, NULL, NULL
FROM flows f LEFT JOIN to_base r ON r.day = f.day AND r.currency = f.currency
ORDER BY kind, day, id
"""  # noqa: S608 - constant text
_USER = "SELECT erased_at FROM users WHERE id = %s"
# The stored days up to the mark, and the days after it computed.
_VALUES = f"""
WITH mark AS ({MARK} WHERE m.user_id = %(user)s),
targets AS (
    SELECT %(user)s::bigint AS user_id, greatest(%(since)s::date - 1, (SELECT through FROM mark)) AS after
),
{COMPUTE}
SELECT v.day, v.value FROM daily_values v, mark m
WHERE v.user_id = %(user)s AND v.day BETWEEN %(since)s::date AND %(until)s::date AND v.day <= m.through
UNION ALL
SELECT day, value FROM computed
ORDER BY 1
"""  # noqa: S608 - constant text
_VERSION = """
SELECT u.erased_at, (SELECT max(day) FROM job_runs WHERE job = %(job)s),
       coalesce((SELECT max(id) FROM ledger_entries WHERE user_id = %(user)s), 0),
       coalesce((SELECT max(id) FROM trades WHERE user_id = %(user)s), 0)
FROM users u WHERE u.id = %(user)s
"""
_CLOSES = """
SELECT c.day, c.close FROM instruments i
LEFT JOIN daily_prices c ON c.instrument_id = i.id AND c.day BETWEEN %s AND %s
WHERE i.symbol = %s ORDER BY c.day
"""
name_queries({
    _USER: "performance.user", _STORED: "performance.stored", _VALUES: "performance.values",
    _FLOWS: "performance.flows", _VERSION: "performance.version", _CLOSES: "performance.closes",
})  # fmt: skip


@dataclass(frozen=True)
class _Read:
    through: date | None  # how far the stored days go (None: none stored)
    today: date  # UTC, the database's
    closed: date | None  # the last day the close job recorded
    values: list[tuple[date, Decimal]]
    flows: list[tuple[date, Decimal]]


class PostgresValueHistory(ValueHistorySource):
    def __init__(self, pool: AsyncConnectionPool, base_currency: str) -> None:
        self._pool = pool
        self._base = base_currency
        self._daily_values = PostgresDailyValues(pool, base_currency)

    async def history(self, user_id: int, since: date, until: date) -> ValueHistory:
        params = {"user": user_id, "since": since, "until": until, "base": self._base, "job": CLOSE_JOB}
        read = await self._read_stored(params)
        if _missing(read) and await self._store_missing_days(user_id):
            read = await self._read_stored(params)
        # Days after the mark computed: all of them if storing failed; else a day closed after it (today's, for a
        # user who booked after the close job stored the day).
        closed_after = read.through is not None and read.closed is not None and read.through < min(until, read.closed)
        if _missing(read) or closed_after:
            read = await self._read_computed(params, read)
        return ValueHistory(
            values=tuple(DailyValue(day=d, value=v) for d, v in read.values),
            flows=tuple(ExternalFlow(day=d, amount=a) for d, a in read.flows),
        )

    async def past(self, user_id: int, period: str, since: date, until: date) -> StoredPast | None:
        params = {"user": user_id, "period": period, "since": since, "until": until}
        async with connection(self._pool) as conn:
            row = await (await conn.execute(PAST, params, prepare=True)).fetchone()
        return None if row is None else decode_past(row)

    async def _read_stored(self, params: dict[str, object]) -> _Read:
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(_STORED, params, prepare=True)).fetchall()
        if not rows or rows[0][0] != 0:
            raise UserNotFoundError(int(str(params["user"])))
        _, through, _, _, today, closed = rows[0]
        values = [(r[1], r[2]) for r in rows if r[0] == 1]
        return _Read(through, today, closed, values, [(r[1], r[2]) for r in rows if r[0] == 2])

    async def _read_computed(self, params: dict[str, object], state: _Read) -> _Read:
        async with connection(self._pool) as conn, conn.transaction():
            # One snapshot for both reads: a deposit committed between them would count in one and not the other.
            await conn.execute(_REPEATABLE)
            await _check_user(conn, int(str(params["user"])))
            values = await (await conn.execute(_VALUES, params, prepare=True)).fetchall()
            flows = await (await conn.execute(_FLOWS, params, prepare=True)).fetchall()
        return _Read(state.through, state.today, state.closed, values, flows)

    async def version(self, user_id: int) -> HistoryVersion:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_VERSION, {"job": CLOSE_JOB, "user": user_id}, prepare=True)
            row = await cur.fetchone()
        if row is None or row[0] is not None:
            raise UserNotFoundError(user_id)
        return HistoryVersion(last_close=row[1], ledger_entry=row[2], trade=row[3])

    async def closes(self, symbol: str, since: date, until: date) -> tuple[DailyValue, ...]:
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(_CLOSES, (since, until, symbol), prepare=True)).fetchall()
        if not rows:
            raise UnknownSymbolError(symbol, field="benchmark")
        return tuple(DailyValue(day=d, value=c) for d, c in rows if d is not None)

    async def _store_missing_days(self, user_id: int) -> bool:
        """Store the user's missing days (set-based, once), so this read and the next ones find them."""
        try:
            await self._daily_values.fill(user_id)
        except DatabaseUnavailableError:
            # This read computes them instead; the next read or the close job stores them.
            log.warning("daily values of user %d not stored now", user_id)
            return False
        return True


def _missing(read: _Read) -> bool:
    """Days before yesterday not stored: none stored yet, or moved back by a booking dated in the past."""
    return read.through is None or read.through < read.today - timedelta(days=1)


async def _check_user(conn: AsyncConnection, user_id: int) -> None:
    row = await (await conn.execute(_USER, (user_id,), prepare=True)).fetchone()
    if row is None or row[0] is not None:
        raise UserNotFoundError(user_id)
