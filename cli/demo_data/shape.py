"""The demo data's shape: sizes, the trading calendar, and what a load reports."""

import datetime as dt
from typing import Final

import msgspec

DEFAULT_SEED: Final = 20240101
USER_COUNT: Final = 10_000
TRADING_DAYS: Final = 252
#: The last trading day of the demo calendar, and the moment the latest quotes are "as of".
LAST_TRADING_DAY: Final = dt.date(2026, 10, 30)
QUOTES_AS_OF: Final = dt.datetime(2026, 10, 30, 20, 0, tzinfo=dt.UTC)
MIN_HOLDINGS: Final = 5
MAX_HOLDINGS: Final = 30
ASSET_CLASS_COUNTS: Final[dict[str, int]] = {"equity": 3000, "etf": 1000, "bond": 700, "crypto": 280, "cash": 20}
INSTRUMENT_COUNT: Final = sum(ASSET_CLASS_COUNTS.values())

# Any constant will do as long as every loader agrees; this one spells "FOLIODEM".
_ADVISORY_LOCK_KEY: Final = 0x464F4C494F44454D
_COPY_CHUNK_ROWS: Final = 20_000
_AS_OF_TEXT: Final = "2026-10-30 20:00:00+00"


class DemoDataResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``load_demo_data`` did: ``loaded`` False means it found data and touched nothing."""

    loaded: bool
    seed: int
    users: int = 0
    instruments: int = 0
    quotes: int = 0
    daily_prices: int = 0
    holdings: int = 0
    elapsed_s: float = 0.0
    reason: str = ""


def demo_user_ids() -> range:
    """The ids of the demo users (1..10000)."""
    return range(1, USER_COUNT + 1)


def trading_days() -> list[dt.date]:
    """The demo calendar: the 252 weekdays ending on ``LAST_TRADING_DAY``, oldest first."""
    days: list[dt.date] = []
    day = LAST_TRADING_DAY
    while len(days) < TRADING_DAYS:
        if day.weekday() < 5:
            days.append(day)
        day -= dt.timedelta(days=1)
    days.reverse()
    return days


#: When the demo users' ledgers open: the first trading day's close (a user created later opens then).
OPENING_AT: Final = dt.datetime.combine(trading_days()[0], dt.time(20, 0), tzinfo=dt.UTC)
