"""Opening cash: each demo user's ledger starts with deposits that paid for the holdings, and the cash kept.

Per user and currency of the holdings: a deposit of the holdings' cost (quantity x average cost) and an
opening settlement (`trade`, to the market) of the same amount, so the holdings were bought with money the
user put in. The deposit also brings the cash the user keeps: a float in the base currency for everyone,
and the user's currency picks (units of USD, EUR, ...: cash, never lots). The ledger then reconciles:
cash = the postings' sum, and value - net contributions = unrealised profit. The entries are dated when the
user's history opens: the demo calendar's first close, or the user's creation if later. Set-based, in the
load's transaction: entry ids are drawn from the table's identity first, so postings can name them.
"""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

import psycopg

OPENING_FLOAT: Final = Decimal(100_000)  # in the base currency

_CURRENCY_CASH = "CREATE TEMP TABLE currency_cash (user_id bigint, currency text, amount numeric) ON COMMIT DROP"
_OPENING = """
CREATE TEMP TABLE opening ON COMMIT DROP AS
SELECT held.user_id, held.currency, sum(held.cost) AS cost, sum(held.kept) AS kept,
       greatest(%(opened)s::timestamptz, u.created_at) AS at
FROM (
    SELECT h.user_id, i.currency::text, round(h.quantity * h.average_cost, 8) AS cost, 0::numeric AS kept
    FROM holdings h JOIN instruments i ON i.id = h.instrument_id
    UNION ALL
    SELECT user_id, currency, 0, amount FROM currency_cash
    UNION ALL
    SELECT id, %(base)s::text, 0, %(float)s::numeric FROM users
) held
JOIN users u ON u.id = held.user_id
GROUP BY held.user_id, held.currency, u.created_at
"""
_IDS = "ALTER TABLE opening ADD COLUMN deposit_id bigint, ADD COLUMN trade_id bigint"
_FILL = """
UPDATE opening SET deposit_id = nextval(pg_get_serial_sequence('ledger_entries', 'id')),
                   trade_id = CASE WHEN cost > 0 THEN nextval(pg_get_serial_sequence('ledger_entries', 'id')) END
"""
_ENTRIES = """
INSERT INTO ledger_entries (id, user_id, kind, booked_at) OVERRIDING SYSTEM VALUE
SELECT deposit_id, user_id, 'deposit', at FROM opening
UNION ALL
SELECT trade_id, user_id, 'trade', at FROM opening WHERE trade_id IS NOT NULL
"""
_POSTINGS = """
INSERT INTO ledger_postings (entry_id, line, account, currency, amount)
SELECT deposit_id, 0, 'cash', currency, cost + kept FROM opening
UNION ALL SELECT deposit_id, 1, 'bank', currency, -(cost + kept) FROM opening
UNION ALL SELECT trade_id, 0, 'cash', currency, -cost FROM opening WHERE trade_id IS NOT NULL
UNION ALL SELECT trade_id, 1, 'market', currency, cost FROM opening WHERE trade_id IS NOT NULL
"""
_BALANCES = (
    "INSERT INTO cash_balances (user_id, currency, balance, updated_at) SELECT user_id, currency, kept, at FROM opening"
)


def book_opening_cash(
    cursor: psycopg.Cursor[tuple[object, ...]],
    base_currency: str,
    currency_cash: Sequence[tuple[int, str, str]],
    *,
    opened: dt.datetime,
) -> None:
    """Book every demo user's opening deposits and settlements, and their cash balances (after the holdings).

    `currency_cash` holds (user id, currency, units) of the cash users keep besides the float; `opened` is
    when the demo's history starts.
    """
    cursor.execute(_CURRENCY_CASH)
    with cursor.copy("COPY currency_cash (user_id, currency, amount) FROM STDIN") as copy:
        for row in currency_cash:
            copy.write_row(row)
    params = {"base": base_currency, "opened": opened, "float": OPENING_FLOAT}
    cursor.execute(_OPENING, params)
    cursor.execute(_IDS)
    cursor.execute(_FILL)
    cursor.execute(_ENTRIES)
    cursor.execute(_POSTINGS)
    cursor.execute(_BALANCES)
