"""SQL shared by the daily values and what is stored with them: each user's effective mark, and the day's rates."""

# Each user's effective mark: `through`, moved back before the day of any trade or entry booked since.
MARK = """
SELECT m.user_id, least(
    m.through,
    (SELECT (min(t.executed_at) AT TIME ZONE 'UTC')::date - 1 FROM trades t
     WHERE t.user_id = m.user_id AND t.id > m.trade),
    (SELECT (min(e.booked_at) AT TIME ZONE 'UTC')::date - 1 FROM ledger_entries e
     WHERE e.user_id = m.user_id AND e.id > m.ledger_entry)) AS through
FROM daily_value_marks m
"""
# The day's rate of each currency into the base currency (a currency's latest close on or before the day,
# the live quote before its first close), over the same of the base currency. Needs `days (day)` and `rated
# (id)`: the currencies' instruments to rate (the base currency's among them).
RATES = """
rates AS (
    SELECT d.day, substr(i.symbol, 6) AS currency,
           coalesce((SELECT dp.close FROM daily_prices dp
                     WHERE dp.instrument_id = i.id AND dp.day <= d.day ORDER BY dp.day DESC LIMIT 1), q.price) AS rate
    FROM days d CROSS JOIN rated c JOIN instruments i ON i.id = c.id LEFT JOIN quotes q ON q.instrument_id = i.id
    WHERE i.asset_class = 'cash' AND i.symbol LIKE 'CASH-%%'
),
to_base AS (
    SELECT r.day, r.currency,
           CASE WHEN r.currency = %(base)s THEN 1 ELSE r.rate / coalesce(b.rate, 1) END AS rate
    FROM rates r LEFT JOIN rates b ON b.day = r.day AND b.currency = %(base)s
)
"""
