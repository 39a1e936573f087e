"""Performance: where a user's daily portfolio values and external cash flows come from."""

from abc import abstractmethod
from datetime import date
from typing import Protocol

from domain.models.performance import ValueHistory


class ValueHistorySource(Protocol):
    """A user's portfolio value day by day and the money it paid in or took out, in the base currency."""

    @abstractmethod
    async def history(self, user_id: int, since: date, until: date) -> ValueHistory:
        """The values of the valuation days in [since, until], oldest first, one per day (each the close's
        value, cash included, after that day's flows), and the external flows dated in [since, until]:
        deposits positive, withdrawals negative. Both read at one moment (a flow and the value it changed
        come together or not at all). Empty when the user had nothing in the period.

        Raises:
            UserNotFoundError: no such user (an erased one too).
            UnavailableError: the store cannot answer now.
        """
