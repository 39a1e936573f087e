"""One contract for the rate-limit store, run against the in-memory twin and the real Valkey adapter."""

import uuid

import pytest
import valkey.asyncio as avalkey

from domain.adapters.breaker import CircuitBreaker
from domain.adapters.memory.rate_limits import InMemoryRateLimitStore
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.valkey_rate_limit import ValkeyRateLimitStore, window_key
from domain.ports.rate_limits import RateLimitStore
from tests.valkey_cluster import cluster_client

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "valkey", "valkey-cluster"])
async def store(request, servers):
    if request.param == "memory":
        yield InMemoryRateLimitStore()
        return
    if request.param == "valkey-cluster":
        client = cluster_client(request.getfixturevalue("valkey_cluster"))
    else:
        client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    yield ValkeyRateLimitStore(client, CircuitBreaker("test", failures=5, reset_s=1, metrics=NullMetrics()))
    await client.aclose()


def digest() -> str:
    return uuid.uuid4().hex[:24]


@pytest.fixture
def window() -> int:
    """A window number of this test's own, far from the live clock's."""
    return int(uuid.uuid4().int % 10**9) + 10**9


async def test_add_returns_each_keys_running_total_in_the_order_given(store: RateLimitStore, window: int):
    a, b = digest(), digest()
    assert await store.add([(a, window, 3), (b, window, 1)], 65) == [3, 1]
    assert await store.add([(b, window, 2), (a, window, 5)], 65) == [3, 8]


async def test_windows_count_apart_even_within_one_call(store: RateLimitStore, window: int):
    a = digest()
    assert await store.add([(a, window, 4), (a, window + 1, 1), (a, window, 1)], 65) == [4, 1, 5]


async def test_a_sync_of_many_keys_is_counted_whole(store: RateLimitStore, window: int):
    keys = [digest() for _ in range(500)]
    assert await store.add([(k, window, i + 1) for i, k in enumerate(keys)], 65) == list(range(1, 501))


async def test_the_valkey_window_expires(servers, window: int):
    client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    try:
        store = ValkeyRateLimitStore(client, CircuitBreaker("test", failures=5, reset_s=1, metrics=NullMetrics()))
        await store.add([(digest(), window, 1)], 65)
        assert 60 < await client.ttl(window_key(window)) <= 65
        await store.add([(digest(), window, 1)], 65)  # a later sync does not push the expiry out
        assert await client.ttl(window_key(window)) <= 65
    finally:
        await client.aclose()
