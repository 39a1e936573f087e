"""Performance: where a user's daily portfolio values and external cash flows come from."""

from abc import abstractmethod
from datetime import date
from typing import Protocol

from domain.models.performance import DailyValue, HistoryVersion, StoredPast, ValueHistory


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

    @abstractmethod
    async def past(self, user_id: int, period: str, since: date, until: date) -> StoredPast | None:
        """The answer of a named period over [since, until] as stored with the daily values, if it is what
        `history` would give now (computed from the same days and flows); None if none is (not stored, stored
        for another day or period start, or anything booked or invalidated since), or no such user.

        Raises:
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def version(self, user_id: int) -> HistoryVersion:
        """What the user's history depends on, cheaply: the latest market close recorded and the user's
        latest ledger entry and trade. Equal versions give equal histories for the same period.

        Raises:
            UserNotFoundError: no such user (an erased one too).
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def closes(self, symbol: str, since: date, until: date) -> tuple[DailyValue, ...]:
        """An instrument's daily closes in [since, until], oldest first, in its own currency (a benchmark).

        Raises:
            UnknownSymbolError: no instrument has this symbol (names the field `benchmark`).
            UnavailableError: the store cannot answer now.
        """
