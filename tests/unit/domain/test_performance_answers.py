"""The performance answers a process keeps: answered without a read while the invalidation channel vouches for
them, confirmed by a version read past that, and computed again once the user's history is announced changed."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest

from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.holdings import InMemoryInvalidationBus, InMemoryInvalidationHub
from domain.adapters.memory.performance import InMemoryValueHistory
from domain.models.invalidations import HoldingsChanged
from domain.models.performance import DailyValue, ExternalFlow, HistoryVersion, PerformanceAnswer
from domain.services.invalidations import listen_for_invalidations
from domain.services.performance import PerformanceService
from domain.services.performance_cache import AnswerCache

USER = 7
TODAY = date(2026, 10, 30)
DAYS = [TODAY - timedelta(days=3 - i) for i in range(4)]


class CountingHistory(InMemoryValueHistory):
    def __init__(self) -> None:
        super().__init__()
        self.version_reads = 0

    async def version(self, user_id: int) -> HistoryVersion:
        self.version_reads += 1
        return await super().version(user_id)


def render(answer: PerformanceAnswer) -> bytes:
    return msgspec.json.encode(answer)


@pytest.fixture
def history() -> CountingHistory:
    h = CountingHistory()
    h.record(
        USER, *(DailyValue(day=d, value=Decimal(v)) for d, v in zip(DAYS, ["100", "110", "99", "120"], strict=True))
    )
    return h


@pytest.fixture
def bus() -> InMemoryInvalidationBus:
    return InMemoryInvalidationBus(InMemoryInvalidationHub())


@pytest.fixture
async def service(history: CountingHistory, bus: InMemoryInvalidationBus) -> AsyncIterator[PerformanceService]:
    s = PerformanceService(history, FixedClock(datetime(2026, 10, 30, 21, tzinfo=UTC)), risk_free_rate=0.02, bus=bus)
    listening = asyncio.create_task(listen_for_invalidations(bus, [s]))
    await asyncio.sleep(0)  # subscribed: the channel is trusted
    yield s
    listening.cancel()


async def test_a_hit_is_answered_without_a_read_until_the_users_history_is_announced_changed(history, bus, service):
    first, hit = await service.answer(USER, "1M", None, render)
    assert (hit, history.version_reads) == (False, 1)
    assert await service.answer(USER, "1M", None, render) == (first, True)
    assert history.version_reads == 1  # no read: the channel vouches for it

    history.record(USER, ExternalFlow(day=DAYS[3], amount=Decimal(10)))
    await bus.broadcast(HoldingsChanged(user_id=USER))
    again, hit = await service.answer(USER, "1M", None, render)
    assert (hit, history.version_reads) == (False, 2)
    assert msgspec.json.decode(again)["flows"] != msgspec.json.decode(first)["flows"]
    assert await service.answer(USER, "1M", None, render) == (again, True)
    assert history.version_reads == 2


async def test_without_a_trusted_channel_every_hit_is_confirmed_by_a_version_read(history, bus, service):
    first, _ = await service.answer(USER, "1M", None, render)
    bus.lose()
    assert await service.answer(USER, "1M", None, render) == (first, True)
    assert history.version_reads == 2


async def test_the_answer_is_the_rendered_report(history, service):
    body, _ = await service.answer(USER, "3M", None, render)
    report, _ = await service.report(USER, "3M")
    decoded = msgspec.json.decode(body, type=PerformanceAnswer)
    assert (decoded.since, decoded.until, decoded.figures) == (report.since, report.until, report.figures)


async def test_an_entry_is_trusted_for_trust_s_after_a_read_confirmed_it(bus):
    clock = [100.0]
    cache = AnswerCache(4, bus, trust_s=1.0, now=lambda: clock[0])
    listening = asyncio.create_task(listen_for_invalidations(bus, [cache]))
    await asyncio.sleep(0)  # subscribed: the channel is trusted
    key = (USER, "1M", None, TODAY)
    version = HistoryVersion(last_close=TODAY, ledger_entry=1, trade=0)
    cache.put(key, version, b"body", cache.ticket(USER))
    clock[0] = 100.9
    assert cache.fresh(key) == b"body"
    clock[0] = 101.0
    assert cache.fresh(key) is None  # a close may have been recorded since: read the version
    assert cache.confirmed(key, version, cache.ticket(USER)) == b"body"
    assert cache.fresh(key) == b"body"
    assert cache.confirmed(key, HistoryVersion(last_close=TODAY, ledger_entry=2, trade=0), cache.ticket(USER)) is None
    listening.cancel()
