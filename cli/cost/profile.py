"""Traffic profiles: requests per minute over a day, a trading day's curve or an operator's CSV."""

import csv
import io
import math
from collections.abc import Sequence

MINUTES_PER_DAY = 1440
SEED_DAILY_REQUESTS = 1_000_000  # the default day: a million API calls
# A trading day's shape in the market's local time: (hour of peak, spread in hours, relative height).
# Market open is the busiest moment, then the close; lunch and evening check-ins are smaller bumps.
SEED_BUMPS = ((9.75, 1.0, 1.0), (12.5, 1.5, 0.45), (15.75, 1.0, 0.8), (20.5, 1.25, 0.4))
SEED_NIGHT_FLOOR = 0.08  # relative to the open's peak: alerts, other time zones, batch clients


class ProfileError(ValueError):
    """A traffic profile that cannot be used; the message says where and why."""


def seed_profile(daily_requests: float = SEED_DAILY_REQUESTS) -> list[float]:
    """Requests per minute for 24 h: a night floor plus business-hours bumps, summing to `daily_requests`."""
    if daily_requests <= 0:
        raise ProfileError("the daily request count must be positive")
    shape = [_relative_rate(minute / 60) for minute in range(MINUTES_PER_DAY)]
    scale = daily_requests / math.fsum(shape)
    return [rate * scale for rate in shape]


def _relative_rate(hour: float) -> float:
    bumps = (height * math.exp(-(((hour - peak) / spread) ** 2) / 2) for peak, spread, height in SEED_BUMPS)
    return SEED_NIGHT_FLOOR + math.fsum(bumps)


def parse_csv(text: str) -> list[float]:
    """`minute,requests` rows (minutes consecutive from 0), or one `requests` column; a header is optional."""
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if rows and not any(_is_number(cell) for cell in rows[0]):
        rows = rows[1:]  # a header such as `minute,requests`
    if not rows:
        raise ProfileError("the profile has no rows of requests per minute")
    return [_parse_row(number, row) for number, row in enumerate(rows)]


def _parse_row(index: int, row: Sequence[str]) -> float:
    where = f"row {index + 1}"
    if len(row) not in (1, 2):
        raise ProfileError(f"{where}: expected `minute,requests` or `requests`, got {len(row)} fields")
    if len(row) == 2:
        minute = _number(row[0], where, "minute")
        if minute != index:
            raise ProfileError(f"{where}: minute {row[0].strip()} where {index} was expected (consecutive from 0)")
    requests = _number(row[-1], where, "requests")
    if requests < 0:
        raise ProfileError(f"{where}: requests must not be negative, got {row[-1].strip()}")
    return requests


def _number(cell: str, where: str, what: str) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise ProfileError(f"{where}: {what} is not a number: {cell.strip()!r}") from None
    if not math.isfinite(value):
        raise ProfileError(f"{where}: {what} must be finite, got {cell.strip()}")
    return value


def _is_number(cell: str) -> bool:
    try:
        float(cell.strip())
    except ValueError:
        return False
    return True
