"""Rate-limit counters on Valkey: one key per (client key, window), INCRBY then EXPIRE, one round trip.

Each counter has its own hash tag (`folio:{rl:<digest>}:<window>`), so the pipeline's commands never
span slots on a Valkey Cluster. Behind a circuit breaker: an open breaker answers at once, without I/O.
"""

import asyncio
from collections.abc import Sequence

import valkey.asyncio as avalkey
from valkey.exceptions import ValkeyError

from domain.adapters.breaker import CircuitBreaker
from domain.errors import UnavailableError
from domain.ports import RateLimitStore

_FAILURES = (ValkeyError, OSError, TimeoutError, asyncio.TimeoutError)


def counter_key(digest: str, window: int) -> str:
    return f"folio:{{rl:{digest}}}:{window}"


class ValkeyRateLimitStore(RateLimitStore):
    def __init__(self, client: avalkey.Valkey, breaker: CircuitBreaker) -> None:
        self._client = client
        self._breaker = breaker

    async def add(self, deltas: Sequence[tuple[str, int, int]], ttl_s: int) -> list[int]:
        if not self._breaker.allow():
            raise UnavailableError("the rate-limit store's circuit is open")
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for digest, window, delta in deltas:
                    key = counter_key(digest, window)
                    pipe.incrby(key, delta)
                    pipe.expire(key, ttl_s, nx=True)
                replies = await pipe.execute()
        except _FAILURES as e:
            self._breaker.failed(e)
            raise UnavailableError(f"the rate-limit store is not answering ({type(e).__name__})") from e
        self._breaker.succeeded()
        return [int(total) for total in replies[::2]]
