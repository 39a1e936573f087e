"""PostgreSQL performance pasts: each user's answer for each named period, computed when its daily values are
stored, in the same transaction (`store_pasts`), so a read answers from one row (`PAST`, `decode_past`).

A row holds what the figures are computed from, already computed: the figures (the Sharpe ratio aside, as it
depends on the risk-free rate: the mean return it is computed from instead), and the series and flows encoded
as the answer carries them. It answers a read only for the day it was stored (`through`, the mark's `through`),
the period's start that day (`since`), and while the user's effective mark (`MARK`: any trade or ledger entry
booked since moves it back, and so does `invalidate_from`) still reaches `through`: then the stored days and
flows of the period are exactly those a full read would find, and any other read computes them afresh.
"""

import bisect
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import msgspec
from psycopg import AsyncConnection

from domain.adapters.postgres.pool import name_queries
from domain.adapters.postgres.valuations import MARK, RATES
from domain.analytics.performance import stored_figures
from domain.analytics.periods import MAX_SPAN_DAYS, PERIODS, period_start
from domain.models.performance import (
    DailyValue,
    ExternalFlow,
    PerformanceFigures,
    StoredPast,
    encode_flows,
    encode_series,
)

# The users' stored days from the earliest period start on, up to their (just written) marks.
_VALUES = f"""
SELECT v.user_id, v.day, v.value
FROM daily_values v JOIN ({MARK} WHERE m.user_id = ANY(%(users)s)) k ON k.user_id = v.user_id
WHERE v.user_id = ANY(%(users)s) AND v.day BETWEEN %(since)s::date AND %(until)s::date AND v.day <= k.through
ORDER BY v.user_id, v.day
"""  # noqa: S608 - constant text
# The users' deposits and withdrawals in the same days, each at its day's rate (as a read converts them).
_FLOWS = f"""
WITH flows AS (
    SELECT e.user_id, e.id, (e.booked_at AT TIME ZONE 'UTC')::date AS day, p.currency::text AS currency, p.amount
    FROM ledger_entries e,
         LATERAL (SELECT q.currency, q.amount FROM ledger_postings q
                  WHERE q.entry_id = e.id AND q.account = 'cash' OFFSET 0) AS p
    WHERE e.user_id = ANY(%(users)s) AND e.kind IN ('deposit', 'withdrawal')
      AND e.booked_at >= %(since)s::timestamp AT TIME ZONE 'UTC'
      AND e.booked_at < (%(until)s::date + 1)::timestamp AT TIME ZONE 'UTC'
),
days AS (SELECT DISTINCT day FROM flows),
rated AS (
    SELECT i.id FROM instruments i
    WHERE i.symbol IN (SELECT 'CASH-' || currency FROM flows UNION SELECT 'CASH-' || %(base)s)
),
{RATES}
SELECT f.user_id, f.day, round(f.amount * coalesce(r.rate, 1), 8)
FROM flows f LEFT JOIN to_base r ON r.day = f.day AND r.currency = f.currency
ORDER BY f.user_id, f.day, f.id
"""  # noqa: S608 - constant text
_CLEAR = "DELETE FROM performance_pasts WHERE user_id = ANY(%s)"
_STORE = """
INSERT INTO performance_pasts (user_id, period, since, through, figures, annual_mean, series, flows)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""
# A read: the stored answer, if it still answers (see the module's docstring); no row if not.
PAST = f"""
SELECT s.figures, s.annual_mean, s.series, s.flows
FROM performance_pasts s JOIN ({MARK} WHERE m.user_id = %(user)s) k ON k.user_id = s.user_id
     JOIN users u ON u.id = s.user_id AND u.erased_at IS NULL
WHERE s.user_id = %(user)s AND s.period = %(period)s AND s.since = %(since)s AND s.through = %(until)s
  AND k.through = s.through
"""  # noqa: S608 - constant text
name_queries({
    _VALUES: "performance_pasts.values", _FLOWS: "performance_pasts.flows", _CLEAR: "performance_pasts.clear",
    _STORE: "performance_pasts.store", PAST: "performance_pasts.read",
})  # fmt: skip

_FIGURES = msgspec.json.Decoder(PerformanceFigures)
_Row = tuple[int, date, Decimal]


async def store_pasts(conn: AsyncConnection, users: Sequence[int], today: date, base: str) -> None:
    """In `conn`'s open transaction, after the users' daily values are stored up to `today`: store each user's
    answer of each period ending `today`, in place of any stored before."""
    since = today - timedelta(days=MAX_SPAN_DAYS)
    params = {"users": list(users), "since": since, "until": today, "base": base}
    values = _by_user(await (await conn.execute(_VALUES, params)).fetchall())
    flows = _by_user(await (await conn.execute(_FLOWS, params)).fetchall())
    rows = []
    for user in users:
        series = [DailyValue(day=d, value=v) for d, v in values.get(user, ())]
        moved = [ExternalFlow(day=d, amount=a) for d, a in flows.get(user, ())]
        rows.extend(_rows(user, today, series, moved))
    await conn.execute(_CLEAR, (list(users),), prepare=True)
    async with conn.cursor() as cur:
        await cur.executemany(_STORE, rows)


def _by_user(rows: list[_Row]) -> dict[int, list[tuple[date, Decimal]]]:
    grouped: dict[int, list[tuple[date, Decimal]]] = {}
    for user, day, amount in rows:
        grouped.setdefault(user, []).append((day, amount))
    return grouped


def _rows(user: int, today: date, series: list[DailyValue], flows: list[ExternalFlow]) -> list[tuple[object, ...]]:
    """One row per period: the days and flows in [its start, today] (both oldest first), as a read takes them."""
    days = [p.day for p in series]
    flow_days = [f.day for f in flows]
    rows: list[tuple[object, ...]] = []
    for period in PERIODS:
        since = period_start(period, today)
        assert since is not None  # every period in PERIODS has a start
        values = series[bisect.bisect_left(days, since) :]
        within = flows[bisect.bisect_left(flow_days, since) :]
        figures, mean = stored_figures(values, within)
        encoded = msgspec.json.encode(figures)
        rows.append((user, period, since, today, encoded, mean, encode_series(values), encode_flows(within)))
    return rows


def decode_past(row: tuple[bytes, float | None, bytes, bytes]) -> StoredPast:
    figures, mean, series, flows = row
    return StoredPast(figures=_FIGURES.decode(figures), annual_mean=mean, series=series, flows=flows)
