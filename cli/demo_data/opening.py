"""Opening cash: each demo user's ledger starts with deposits that paid for the holdings, and a float.

Per user and currency of the holdings: a deposit of the holdings' cost (quantity x average cost) and an
opening settlement (`trade`, to the market) of the same amount, so the holdings were bought with money the
user put in. Every user also deposits a float in the base currency, the cash they start with. The ledger
then reconciles: cash = the postings' sum, and value - net contributions = unrealised profit. Set-based,
in the load's transaction: entry ids are drawn from the table's identity first, so postings can name them.
"""

import datetime as dt
from decimal import Decimal
from typing import Final

import psycopg

OPENING_FLOAT: Final = Decimal(100_000)  # in the base currency

_OPENING = """
CREATE TEMP TABLE opening ON COMMIT DROP AS
SELECT user_id, currency, sum(cost) AS cost FROM (
    SELECT h.user_id, i.currency, round(h.quantity * h.average_cost, 8) AS cost
    FROM holdings h JOIN instruments i ON i.id = h.instrument_id
    UNION ALL
    SELECT u.id, %(base)s, 0 FROM users u
) held
GROUP BY user_id, currency
"""
_IDS = "ALTER TABLE opening ADD COLUMN deposit_id bigint, ADD COLUMN trade_id bigint, ADD COLUMN float numeric"
_FILL = """
UPDATE opening SET deposit_id = nextval(pg_get_serial_sequence('ledger_entries', 'id')),
                   trade_id = CASE WHEN cost > 0 THEN nextval(pg_get_serial_sequence('ledger_entries', 'id')) END,
                   float = CASE WHEN currency = %(base)s THEN %(float)s ELSE 0 END
"""
_ENTRIES = """
INSERT INTO ledger_entries (id, user_id, kind, booked_at) OVERRIDING SYSTEM VALUE
SELECT deposit_id, user_id, 'deposit', %(at)s FROM opening
UNION ALL
SELECT trade_id, user_id, 'trade', %(at)s FROM opening WHERE trade_id IS NOT NULL
"""
_POSTINGS = """
INSERT INTO ledger_postings (entry_id, line, account, currency, amount)
SELECT deposit_id, 0, 'cash', currency, cost + float FROM opening
UNION ALL SELECT deposit_id, 1, 'bank', currency, -(cost + float) FROM opening
UNION ALL SELECT trade_id, 0, 'cash', currency, -cost FROM opening WHERE trade_id IS NOT NULL
UNION ALL SELECT trade_id, 1, 'market', currency, cost FROM opening WHERE trade_id IS NOT NULL
"""
_BALANCES = """
INSERT INTO cash_balances (user_id, currency, balance, updated_at)
SELECT user_id, currency, float, %(at)s FROM opening
"""


def book_opening_cash(cursor: psycopg.Cursor[tuple[object, ...]], base_currency: str, at: dt.datetime) -> None:
    """Book every demo user's opening deposits and settlements, and their cash balances (after the holdings)."""
    params = {"base": base_currency, "at": at, "float": OPENING_FLOAT}
    cursor.execute(_OPENING, params)
    cursor.execute(_IDS)
    cursor.execute(_FILL, params)
    cursor.execute(_ENTRIES, params)
    cursor.execute(_POSTINGS)
    cursor.execute(_BALANCES, params)
