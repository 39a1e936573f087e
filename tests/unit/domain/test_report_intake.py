"""Group commit of report requests: what arrives in one turn is written together, each answered from its own result."""

import asyncio

import pytest

from domain.batching import TurnBatch
from domain.errors import UnavailableError


class Store:
    def __init__(self, fail: Exception | None = None, pause: asyncio.Event | None = None) -> None:
        self.groups: list[list[int]] = []
        self.fail = fail
        self.pause = pause

    async def write(self, items):
        self.groups.append(list(items))
        if self.pause is not None:
            await self.pause.wait()
        if self.fail is not None:
            raise self.fail
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_requests_of_one_turn_share_one_write_and_each_gets_its_own_result():
    store = Store()
    batch = TurnBatch(store.write)
    results = await asyncio.gather(*(batch.submit(i) for i in range(6)), return_exceptions=True)
    assert store.groups == [[0, 1, 2, 3, 4, 5]]
    assert results[0::2] == [0, 20, 40]
    assert [str(e) for e in results[1::2]] == ["odd 1", "odd 3", "odd 5"]


async def test_a_lone_request_is_written_at_once():
    store = Store()
    assert await asyncio.wait_for(TurnBatch(store.write).submit(4), 1) == 40
    assert store.groups == [[4]]


async def test_a_failed_write_fails_every_request_of_its_group_and_the_next_group_is_written():
    store = Store(fail=UnavailableError("the database is not answering"))
    batch = TurnBatch(store.write)
    results = await asyncio.gather(batch.submit(2), batch.submit(4), return_exceptions=True)
    assert all(isinstance(r, UnavailableError) for r in results)
    store.fail = None
    assert await batch.submit(6) == 60


async def test_groups_grow_while_writes_are_in_flight_and_are_capped():
    pause = asyncio.Event()
    store = Store(pause=pause)
    batch = TurnBatch(store.write, max_group=3, max_in_flight=1)
    first = asyncio.ensure_future(batch.submit(0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the first group is being written
    later = [asyncio.ensure_future(batch.submit(i)) for i in (2, 4, 6, 8)]
    await asyncio.sleep(0.01)
    assert store.groups == [[0]]  # the others wait for the write in flight
    pause.set()
    assert await asyncio.gather(first, *later) == [0, 20, 40, 60, 80]
    assert store.groups == [[0], [2, 4, 6], [8]]


async def test_a_request_that_goes_away_leaves_the_others_answered():
    pause = asyncio.Event()
    store = Store(pause=pause)
    batch = TurnBatch(store.write)
    gone = asyncio.ensure_future(batch.submit(2))
    kept = asyncio.ensure_future(batch.submit(4))
    await asyncio.sleep(0.01)
    gone.cancel()
    pause.set()
    assert await kept == 40
    with pytest.raises(asyncio.CancelledError):
        await gone
