"""Deterministic demo data: users, instruments, a year of daily closes, quotes and holdings.

Everything is drawn from ``random.Random`` streams derived from one seed, and every date is anchored
to a fixed trading calendar (not to today), so the same seed gives the same rows byte for byte.
The whole load is one transaction of COPYs under a transaction-level advisory lock: a failed load
leaves nothing behind, a second run (or a concurrent one) finds the users and skips.

Conventions worth knowing when reading the data:

* Quotes and daily closes are in the instrument's own currency.
* A ``cash`` instrument (``CASH-EUR``...) is a currency's exchange rate: its ``currency`` is USD
  and its price is the USD value of one unit; ``CASH-USD`` is always 1. Nobody holds one: a user's
  cash is in the ledger (opening deposits dated ``OPENING_AT``, or the user's creation if later).
* Bond prices are per 100 of face value; bond quantities are in units of that price.
"""

from cli.demo_data.load import load_demo_data
from cli.demo_data.shape import (
    ASSET_CLASS_COUNTS,
    DEFAULT_SEED,
    INSTRUMENT_COUNT,
    LAST_TRADING_DAY,
    MAX_HOLDINGS,
    MIN_HOLDINGS,
    OPENING_AT,
    QUOTES_AS_OF,
    TRADING_DAYS,
    USER_COUNT,
    DemoDataResult,
    demo_user_ids,
    trading_days,
)

__all__ = [
    "ASSET_CLASS_COUNTS",
    "DEFAULT_SEED",
    "INSTRUMENT_COUNT",
    "LAST_TRADING_DAY",
    "MAX_HOLDINGS",
    "MIN_HOLDINGS",
    "OPENING_AT",
    "QUOTES_AS_OF",
    "TRADING_DAYS",
    "USER_COUNT",
    "DemoDataResult",
    "demo_user_ids",
    "load_demo_data",
    "trading_days",
]
