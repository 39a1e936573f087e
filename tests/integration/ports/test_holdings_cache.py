"""One contract for the holdings cache, run against the in-memory twin and the real Valkey adapter."""

from decimal import Decimal
from itertools import count

import pytest
import valkey.asyncio as avalkey

from domain.adapters.breaker import CircuitBreaker
from domain.adapters.memory.holdings import InMemoryHoldingsCache
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.valkey_cache import ValkeyHoldingsCache, holdings_key
from domain.models.holdings import Holding, Holdings
from domain.ports.holdings import HoldingsCache
from tests.valkey_cluster import cluster_client

pytestmark = pytest.mark.integration
_users = count(700_000)


def holdings(user_id: int, quantity: str = "3") -> Holdings:
    lot = Holding(instrument_id=1, quantity=Decimal(quantity), average_cost=Decimal("2.5"))
    return Holdings(user_id=user_id, items=(lot,))


def breaker(failures: int = 5, reset_s: float = 1) -> CircuitBreaker:
    return CircuitBreaker("test", failures=failures, reset_s=reset_s, metrics=NullMetrics())


@pytest.fixture(params=["memory", "valkey", "valkey-cluster"])
async def cache(request, servers):
    if request.param == "memory":
        yield InMemoryHoldingsCache()
        return
    if request.param == "valkey-cluster":  # every script's keys in one slot: the user's hash tag
        client = cluster_client(request.getfixturevalue("valkey_cluster"))
    else:
        client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    yield ValkeyHoldingsCache(
        client, CircuitBreaker("test", failures=5, reset_s=1, metrics=NullMetrics()), ttl_s=60, fill_wait_s=0.2
    )
    await client.aclose()


async def test_a_miss_then_a_fill_then_a_hit(cache: HoldingsCache):
    user = next(_users)
    found, ticket, leads = await cache.read_or_lead(user)
    assert (found, leads) == (None, True)
    assert await cache.fill_and_end(ticket, holdings(user)) is True
    found, _, leads = await cache.read_or_lead(user)
    assert (found, leads) == (holdings(user), False)


async def test_a_fill_that_began_before_an_invalidation_is_refused(cache: HoldingsCache):
    user = next(_users)
    _, ticket, _ = await cache.read_or_lead(user)
    await cache.invalidate(user)
    assert await cache.fill(ticket, holdings(user, "1")) is False
    await cache.end_fill(user)
    found, fresh, _ = await cache.read_or_lead(user)
    assert found is None
    assert await cache.fill_and_end(fresh, holdings(user, "2")) is True
    assert (await cache.read_or_lead(user))[0] == holdings(user, "2")


async def test_invalidate_drops_the_entry(cache: HoldingsCache):
    user = next(_users)
    _, ticket, _ = await cache.read_or_lead(user)
    await cache.fill_and_end(ticket, holdings(user))
    await cache.invalidate(user)
    found, _, leads = await cache.read_or_lead(user)
    assert (found, leads) == (None, True)
    await cache.end_fill(user)


async def test_one_fill_lease_at_a_time_and_waiters_see_the_fill(cache: HoldingsCache):
    user = next(_users)
    leads = (await cache.read_or_lead(user))[2]
    assert leads is True
    _, waiter_ticket, waiter_leads = await cache.read_or_lead(user)
    assert waiter_leads is False
    assert await cache.fill(waiter_ticket, holdings(user)) is True  # a non-leader may store what it loaded
    assert await cache.await_fill(user) == holdings(user)
    await cache.end_fill(user)
    await cache.invalidate(user)
    assert (await cache.read_or_lead(user))[2] is True  # the lease was given back
    await cache.end_fill(user)


async def test_a_waiter_gives_up_when_the_leader_leaves_without_filling(cache: HoldingsCache):
    user = next(_users)
    assert (await cache.read_or_lead(user))[2] is True
    await cache.end_fill(user)
    assert await cache.await_fill(user) is None


async def test_a_miss_leads_once_and_the_leaders_fill_releases_the_lease(cache: HoldingsCache):
    user = next(_users)
    found, ticket, leads = await cache.read_or_lead(user)
    assert (found, leads) == (None, True)
    assert (await cache.read_or_lead(user))[2] is False  # the lease is held: others wait
    assert await cache.fill_and_end(ticket, holdings(user)) is True
    assert await cache.await_fill(user) == holdings(user)
    found, _, leads = await cache.read_or_lead(user)
    assert (found, leads) == (holdings(user), False)  # a hit takes no lease
    await cache.invalidate(user)
    assert (await cache.read_or_lead(user))[2] is True  # and the leader's lease was given back
    await cache.end_fill(user)


async def test_a_leaders_fill_that_raced_an_invalidation_stores_nothing_but_ends_the_lease(cache: HoldingsCache):
    user = next(_users)
    _, ticket, leads = await cache.read_or_lead(user)
    assert leads is True
    await cache.invalidate(user)
    assert await cache.fill_and_end(ticket, holdings(user, "1")) is False
    found, _, leads = await cache.read_or_lead(user)
    assert (found, leads) == (None, True)
    await cache.end_fill(user)


async def test_a_leader_with_nothing_to_store_releases_and_its_waiters_give_up(cache: HoldingsCache):
    user = next(_users)
    _, ticket, leads = await cache.read_or_lead(user)
    assert leads is True
    assert await cache.fill_and_end(ticket, None) is False
    assert await cache.await_fill(user) is None
    assert (await cache.read_or_lead(user))[2] is True
    await cache.end_fill(user)


async def test_valkey_entries_are_versioned_msgpack_under_a_hash_tagged_key(servers):
    client = avalkey.Valkey.from_url(servers.valkey_url)
    adapter = ValkeyHoldingsCache(
        client, CircuitBreaker("test", failures=5, reset_s=1, metrics=NullMetrics()), ttl_s=60
    )
    user = next(_users)
    _, ticket, _ = await adapter.read_or_lead(user)
    await adapter.fill_and_end(ticket, holdings(user))
    key = holdings_key(user)
    assert key == f"folio:{{u{user}}}:holdings:v2"  # v2: the holdings carry the cash
    raw = await client.get(key)
    assert raw is not None
    assert not raw.startswith(b"{")  # msgpack, not JSON
    assert 0 < await client.pttl(key) <= 60_000
    await client.aclose()


async def test_a_dead_valkey_reads_as_a_miss_and_opens_the_breaker():
    client = avalkey.Valkey.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.1, socket_timeout=0.1)
    opened = breaker(failures=2, reset_s=30)
    adapter = ValkeyHoldingsCache(client, opened, ttl_s=60)
    for _ in range(3):
        found, ticket, leads = await adapter.read_or_lead(1)
        assert (found, leads) == (None, True)  # load from the record, store nothing
        assert ticket.usable is False
    assert opened.state == "open"
    await client.aclose()
