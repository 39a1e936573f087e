"""Rate limits: counters every process shares."""

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol


class RateLimitStore(Protocol):
    """Counters shared by every process: one per (key, window), expiring with the window."""

    @abstractmethod
    async def add(self, deltas: Sequence[tuple[str, int, int]], ttl_s: int) -> list[int]:
        """Add each `(key digest, window number, delta)` and return the new totals, in order.

        Raises:
            UnavailableError: the store cannot answer now (the limiter then counts locally).
        """
