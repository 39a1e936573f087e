"""The in-memory twin of the rate-limit store."""

import asyncio
from collections.abc import Sequence

from domain.errors import UnavailableError
from domain.ports.rate_limits import RateLimitStore


class InMemoryRateLimitStore(RateLimitStore):
    """Shared counters in a dict; `down = True` makes every call fail as an unreachable store would."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.calls = 0
        self.down = False

    async def add(self, deltas: Sequence[tuple[str, int, int]], ttl_s: int) -> list[int]:
        self.calls += 1
        await asyncio.sleep(0)  # a round trip: other requests run meanwhile
        if self.down:
            raise UnavailableError("the rate-limit store is down")
        totals = []
        for digest, window, delta in deltas:
            total = self.counts[(digest, window)] = self.counts.get((digest, window), 0) + delta
            totals.append(total)
        return totals
