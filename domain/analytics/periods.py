"""The named periods a performance answer covers, each ending today: where each one starts."""

import calendar
from datetime import date, timedelta
from typing import Literal, get_args

MAX_SPAN_DAYS = 3660  # ten years of daily values: a few thousand points, computed in milliseconds
Period = Literal["1M", "3M", "YTD", "1Y", "ALL"]
PERIODS: tuple[str, ...] = get_args(Period)


def period_start(period: str, today: date, max_span_days: int = MAX_SPAN_DAYS) -> date | None:
    """The first day of `period` ending `today`: 1M and 3M calendar months back, YTD the 1st of January, 1Y a
    year back, ALL `max_span_days` back; None for an unknown period."""
    if period == "1M":
        return _months_back(today, 1)
    if period == "3M":
        return _months_back(today, 3)
    if period == "YTD":
        return date(today.year, 1, 1)
    if period == "1Y":
        return _months_back(today, 12)
    if period == "ALL":
        return today - timedelta(days=max_span_days)
    return None


def _months_back(day: date, months: int) -> date:
    """The same day `months` calendar months earlier, or that month's last day (31 March → 28/29 February)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
