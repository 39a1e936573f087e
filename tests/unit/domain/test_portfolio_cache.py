"""The portfolio read's caching, through in-memory twins: single flight, invalidation, fail-open."""

import asyncio
from decimal import Decimal

import pytest

from domain.adapters.memory.holdings import InMemoryHoldingsCache, InMemoryHoldingsRepository, InMemoryInvalidationHub
from domain.adapters.null_metrics import NullMetrics
from domain.models.holdings import Holding, Holdings
from domain.models.quotes import build_snapshot
from domain.services.portfolios import PortfolioService


class CountingRepository(InMemoryHoldingsRepository):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def get(self, user_id: int) -> Holdings | None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return await super().get(user_id)


def lot(quantity: str) -> Holding:
    return Holding(instrument_id=1, quantity=Decimal(quantity), average_cost=Decimal(1))


@pytest.fixture
def repo() -> CountingRepository:
    r = CountingRepository()
    r.add_user(1, lot("10"))
    return r


def service(repo, cache, bus) -> PortfolioService:
    return PortfolioService(repo, lambda: build_snapshot(1, {}, {}, "USD"), cache=cache, bus=bus, metrics=NullMetrics())


async def test_a_hundred_concurrent_misses_make_one_repository_call(repo):
    svc = service(repo, InMemoryHoldingsCache(), InMemoryInvalidationHub().bus())
    repo.gate = asyncio.Event()
    readers = [asyncio.create_task(svc.holdings(1)) for _ in range(100)]
    await asyncio.sleep(0.01)
    repo.gate.set()
    results = await asyncio.gather(*readers)
    assert repo.calls == 1
    assert {h.items[0].quantity for h, _ in results} == {Decimal("10")}


async def test_processes_sharing_a_cache_load_once_between_them(repo):
    cache, hub = InMemoryHoldingsCache(), InMemoryInvalidationHub()
    a, b = service(repo, cache, hub.bus()), service(repo, cache, hub.bus())
    repo.gate = asyncio.Event()
    readers = [asyncio.create_task(svc.holdings(1)) for svc in (a, b) for _ in range(50)]
    await asyncio.sleep(0.01)
    repo.gate.set()
    await asyncio.gather(*readers)
    assert repo.calls == 1


async def test_second_read_is_served_from_the_process_without_any_call(repo):
    svc = service(repo, InMemoryHoldingsCache(), InMemoryInvalidationHub().bus())
    listener = asyncio.create_task(svc.listen())  # the local copy is used only while invalidations can arrive
    await asyncio.sleep(0)
    assert (await svc.holdings(1))[1] is False
    assert svc.cached(1) is not None
    assert (await svc.holdings(1))[1] is True
    assert repo.calls == 1
    listener.cancel()


async def test_an_invalidation_during_a_load_keeps_the_stale_result_out_of_every_cache(repo):
    cache, hub = InMemoryHoldingsCache(), InMemoryInvalidationHub()
    svc = service(repo, cache, hub.bus())
    repo.gate = asyncio.Event()
    slow_read = asyncio.create_task(svc.holdings(1))
    await asyncio.sleep(0.01)
    repo.add_user(1, lot("11"))  # a trade commits while the read is in the database
    await svc.invalidate(1)
    repo.gate.set()
    await slow_read
    assert svc.cached(1) is None
    assert 1 not in cache.entries
    fresh, _ = await svc.holdings(1)
    assert fresh.items[0].quantity == Decimal("11")


async def test_an_invalidation_reaches_the_other_processes_local_copy(repo):
    cache, hub = InMemoryHoldingsCache(), InMemoryInvalidationHub()
    a, b = service(repo, cache, hub.bus()), service(repo, cache, hub.bus())
    listener = asyncio.create_task(b.listen())
    await asyncio.sleep(0)
    await b.holdings(1)
    assert b.cached(1) is not None
    repo.add_user(1, lot("12"))
    await a.invalidate(1)
    assert b.cached(1) is None
    assert (await b.holdings(1))[0].items[0].quantity == Decimal("12")
    listener.cancel()


async def test_without_a_trusted_bus_the_local_copy_is_not_used(repo):
    bus = InMemoryInvalidationHub().bus()
    svc = service(repo, InMemoryHoldingsCache(), bus)
    listener = asyncio.create_task(svc.listen())
    await asyncio.sleep(0)
    await svc.holdings(1)
    assert svc.cached(1) is not None
    bus.up = False
    assert svc.cached(1) is None
    listener.cancel()


async def test_with_the_cache_down_reads_come_from_the_repository(repo):
    cache = InMemoryHoldingsCache()
    cache.available = False
    svc = service(repo, cache, InMemoryInvalidationHub().bus())
    holdings, hit = await svc.holdings(1)
    assert holdings.items[0].quantity == Decimal("10")
    assert hit is False
