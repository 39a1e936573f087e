"""Daily values: each user's portfolio value at the close of each past valuation day, computed once and kept."""

from abc import abstractmethod
from datetime import date
from typing import Protocol


class DailyValueStore(Protocol):
    """Keeps each user's daily values, so a read of a period does not rebuild the days that have closed."""

    @abstractmethod
    async def fill(self, user_id: int | None = None, *, readers_only: bool = False) -> int:
        """Compute and store the valuation days up to today (UTC) that `user_id` (None: every user) does not
        have stored yet, or no longer right; days already stored are left alone, so a repeat does nothing.
        `readers_only` (with None) keeps to the users whose days were stored before: the market day's close
        adds a day to theirs, and anyone else's whole history is computed on its first read.

        Returns:
            The number of users whose days were computed.

        Raises:
            UnavailableError: the store cannot answer now (what a batch of users wrote is kept or undone whole).
        """

    @abstractmethod
    async def invalidate_from(self, day: date, user_id: int | None = None) -> int:
        """The stored days of `user_id` (None: every user) from `day` on are no longer right: something
        rewrote them (a close recorded for a past day, a split). The next fill or read computes them again.

        Returns:
            The number of users whose stored days moved back.

        Raises:
            UnavailableError: the store cannot answer now.
        """
