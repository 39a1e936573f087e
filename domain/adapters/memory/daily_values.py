"""The in-memory twin of the daily value store: what was asked of it, for a test to check."""

from datetime import date

from domain.errors import DatabaseUnavailableError
from domain.ports.daily_values import DailyValueStore


class InMemoryDailyValues(DailyValueStore):
    def __init__(self) -> None:
        self.fills: list[int | None] = []  # the user of each fill (None: every user)
        self.readers_only: list[bool] = []
        self.invalidations: list[tuple[date, int | None]] = []
        self.failing = False  # a test sets it to see a fill fail as an unavailable store does

    async def fill(self, user_id: int | None = None, *, readers_only: bool = False) -> int:
        if self.failing:
            raise DatabaseUnavailableError("the daily values are not reachable")
        self.fills.append(user_id)
        self.readers_only.append(readers_only)
        return 0

    async def invalidate_from(self, day: date, user_id: int | None = None) -> int:
        self.invalidations.append((day, user_id))
        return 0
