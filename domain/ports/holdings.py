"""Holdings: the record of what users own, the shared cache in front of it, and the bus that
invalidates every process's copy (of holdings, and of verified credentials)."""

from abc import abstractmethod
from collections.abc import Callable
from typing import Protocol

from domain.models.holdings import FillTicket, Holdings
from domain.models.invalidations import Invalidation


class HoldingsRepository(Protocol):
    """The record of what each user owns."""

    @abstractmethod
    async def get(self, user_id: int) -> Holdings | None:
        """Return the user's holdings (possibly none); None when the user does not exist or was erased.

        Raises:
            UnavailableError: the store cannot answer now.
        """


class HoldingsCache(Protocol):
    """A shared cache of holdings in front of the repository. Failures read as misses, never raise."""

    @abstractmethod
    async def fill(self, ticket: FillTicket, holdings: Holdings) -> bool:
        """Store `holdings` unless the user was invalidated since the ticket was issued; True if stored."""

    @abstractmethod
    async def invalidate(self, user_id: int) -> None:
        """Drop the user's entry, so that no fill that began earlier can store it again."""

    @abstractmethod
    async def end_fill(self, user_id: int) -> None:
        """Give the lease back."""

    @abstractmethod
    async def await_fill(self, user_id: int) -> Holdings | None:
        """Wait (bounded) for another process's fill; None when it did not come."""

    @abstractmethod
    async def read_or_lead(self, user_id: int) -> tuple[Holdings | None, FillTicket, bool]:
        """The cached holdings (None on a miss or when the cache is down), a ticket to fill a miss, and,
        on a miss, whether this caller leads the fill (a short lease across processes), in one round trip."""

    @abstractmethod
    async def fill_and_end(self, ticket: FillTicket, holdings: Holdings | None) -> bool:
        """`fill` (when there is something to store) and give the lease back, in one round trip; True if stored."""


class InvalidationBus(Protocol):
    """Carries typed invalidations to every process: a user's holdings changed, an API key revoked, a
    user's sessions revoked. One subscription per process; every message reaches every listener."""

    @abstractmethod
    def trusted(self) -> bool:
        """True while this process is known to receive every invalidation (its local caches may be used):
        never before `listen` has subscribed, nor after it stopped or lost the subscription."""

    @abstractmethod
    async def broadcast(self, message: Invalidation) -> None:
        """Return once every live process has applied the message, or once a process that missed
        it can no longer trust its local state (bounded either way)."""

    @abstractmethod
    async def listen(self, on_message: Callable[[Invalidation], None], on_lost: Callable[[], None]) -> None:
        """Run until cancelled: apply every broadcast (this process's own too); call `on_lost` whenever
        delivery may have had gaps (the subscription was lost), and resubscribe by itself."""
