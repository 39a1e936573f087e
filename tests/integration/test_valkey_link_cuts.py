"""Valkey's link cut again and again under load, on uvloop (the loop Granian runs the web process on).

A command written to a connection the peer has just closed raises uvloop's RuntimeError ("the handler is
closed"), which valkey-py lets through; before it counted as a cache failure, one request in thousands
answered 500 while Valkey was away. Every call must degrade (a miss, a refusal the caller maps to its
fallback), never raise, and the cache must be used again once the link is back.
"""

import asyncio
import collections
from urllib.parse import urlsplit

import pytest
import uvloop

from domain.adapters.breaker import CircuitBreaker
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.valkey import open_valkey
from domain.adapters.valkey_cache import ValkeyHoldingsCache
from domain.adapters.valkey_rate_limit import ValkeyRateLimitStore
from domain.errors import UnavailableError
from domain.models.holdings import Holdings
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

TASKS = 40
CUTS = 8


async def _cut_repeatedly(valkey_url: str) -> tuple[collections.Counter[str], bool]:
    target = urlsplit(valkey_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    client = open_valkey(target._replace(netloc=f"127.0.0.1:{proxy.port}").geturl(),
                         max_connections=16, timeout_s=0.5, wait_s=0.5)  # fmt: skip
    # A breaker that lets every call through: each one meets the cut link, not the open circuit.
    breaker = CircuitBreaker("valkey", failures=1_000_000, reset_s=0.1, metrics=NullMetrics())
    cache = ValkeyHoldingsCache(client, breaker, ttl_s=60)
    limits = ValkeyRateLimitStore(client, breaker)
    outcomes: collections.Counter[str] = collections.Counter()
    stop = asyncio.Event()

    async def caller(user_id: int) -> None:
        while not stop.is_set():
            holdings, ticket, _ = await cache.read_or_lead(user_id)
            outcomes["hit" if holdings is not None else "miss" if ticket.usable else "cache down"] += 1
            await cache.fill_and_end(ticket, Holdings(user_id=user_id, items=()))
            try:
                await limits.add([(f"k{user_id}", 60, 1)], 120)
            except UnavailableError:
                outcomes["rate limit store down"] += 1
            await asyncio.sleep(0)

    try:
        tasks = [asyncio.create_task(caller(9_000 + i)) for i in range(TASKS)]
        for _ in range(CUTS):
            await asyncio.sleep(0.15)
            proxy.cut()
            await asyncio.sleep(0.15)
            proxy.restore()
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tasks)  # a call that raised would raise here
        holdings, _, _ = await cache.read_or_lead(9_000)
        return outcomes, holdings is not None
    finally:
        await client.aclose()
        proxy.close()


def test_calls_through_a_link_cut_under_load_degrade_and_never_raise(servers):
    outcomes, used_again = uvloop.run(_cut_repeatedly(servers.valkey_url))
    assert outcomes["cache down"] > 0, outcomes  # the cuts were met
    assert outcomes["rate limit store down"] > 0, outcomes
    assert outcomes["hit"] > 0, outcomes
    assert used_again  # the link back: the entry filled before is read again
