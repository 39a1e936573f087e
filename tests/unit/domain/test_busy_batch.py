"""Reads that go at once while the store is idle, and together while it is busy (`BusyBatch`)."""

import asyncio

import pytest

from domain.batching import BusyBatch
from domain.errors import UnavailableError
from tests.unit.domain.test_report_intake import Store


async def test_requests_go_alone_while_fewer_than_the_limit_are_under_way():
    store = Store()
    batch = BusyBatch(store.write, max_in_flight=2)
    assert await batch.submit(2) == 20
    assert await asyncio.gather(batch.submit(4), batch.submit(6)) == [40, 60]
    assert store.groups == [[2], [4], [6]]


async def test_requests_beyond_the_limit_wait_and_go_as_one_group_each_with_its_own_result():
    pause = asyncio.Event()
    store = Store(pause=pause)
    waits: list[float] = []
    batch = BusyBatch(store.write, max_in_flight=1, waited=waits.append)
    first = asyncio.create_task(batch.submit(0))
    await asyncio.sleep(0)
    rest = asyncio.gather(*(batch.submit(i) for i in range(1, 5)), return_exceptions=True)
    await asyncio.sleep(0.01)
    assert store.groups == [[0]]  # the others wait while the store is busy
    pause.set()
    results = await asyncio.wait_for(rest, 1)
    assert await first == 0
    assert store.groups == [[0], [1, 2, 3, 4]]
    assert results[1::2] == [20, 40]
    assert [str(e) for e in results[0::2]] == ["odd 1", "odd 3"]
    assert len(waits) == 4
    assert all(w > 0 for w in waits)


async def test_the_requests_waiting_behind_a_failed_round_trip_fail_with_it_at_once():
    pause = asyncio.Event()
    store = Store(fail=UnavailableError("the database is not answering"), pause=pause)
    batch = BusyBatch(store.write, max_in_flight=1)
    first = asyncio.create_task(batch.submit(0))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(batch.submit(i)) for i in (2, 4)]
    await asyncio.sleep(0)
    pause.set()
    for task in (first, *waiting):
        with pytest.raises(UnavailableError):
            await asyncio.wait_for(task, 1)
    assert store.groups == [[0]]  # not a second round trip into the same fault
    store.fail = None
    assert await asyncio.wait_for(batch.submit(6), 1) == 60  # and the next request goes as usual
