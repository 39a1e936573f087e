"""The rate limiter's decisions: local counting, batched reconciliation, the overshoot bound, fail open."""

import asyncio

from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.rate_limits import InMemoryRateLimitStore
from domain.services.rate_limits import WINDOW_S, RateLimiter


def Clock(now: float = 1_000_020.0) -> FixedClock:  # noqa: N802 - reads as the clock it makes
    clock = FixedClock()
    clock.set(now)
    return clock


def limiter(store: InMemoryRateLimitStore | None, clock: FixedClock, overshoot_pct: float = 0) -> RateLimiter:
    return RateLimiter(store, sync_s=0.05, overshoot_pct=overshoot_pct, max_keys=1000, clock=clock)


async def test_a_process_admits_exactly_the_limit_then_answers_the_seconds_left_in_the_window():
    clock = Clock(WINDOW_S * 1000 + 15)
    rl = limiter(InMemoryRateLimitStore(), clock)
    verdicts = [await rl.admit("user:1", 20) for _ in range(25)]
    assert verdicts[:20] == [0] * 20
    assert verdicts[20:] == [45] * 5  # Retry-After: the window ends 45 s later


async def test_a_new_window_starts_a_new_count():
    clock = Clock(WINDOW_S * 1000 + 59)
    rl = limiter(InMemoryRateLimitStore(), clock)
    assert [await rl.admit("k", 2) for _ in range(3)] == [0, 0, 1]
    clock.advance(1)
    assert await rl.admit("k", 2) == 0


async def test_keys_are_counted_apart_and_the_store_never_sees_the_key():
    store = InMemoryRateLimitStore()
    rl = limiter(store, Clock())
    for _ in range(3):
        await rl.admit("user:secret-token", 100)
    await rl.admit("address:10.0.0.1", 100)
    await rl.sync()
    assert sorted(store.counts.values()) == [1, 3]
    assert not any("secret" in digest for digest, _ in store.counts)


async def test_processes_sharing_a_store_admit_the_limit_plus_at_most_one_batch_per_extra_process():
    store = InMemoryRateLimitStore()
    clock = Clock()
    processes = [limiter(store, clock, overshoot_pct=10) for _ in range(3)]  # batch = 10% of 100 = 10

    async def hammer(rl: RateLimiter) -> int:
        admitted = 0
        for _ in range(200):
            admitted += await rl.admit("user:7", 100) == 0
        return admitted

    admitted = sum(await asyncio.gather(*(hammer(rl) for rl in processes)))
    assert 100 <= admitted <= 100 + 2 * 10


async def test_concurrent_requests_in_one_process_wait_for_the_batch_round_trip():
    store = InMemoryRateLimitStore()
    rl = limiter(store, Clock())  # batch of one: every admission is confirmed before the next
    results = await asyncio.gather(*(rl.admit("user:9", 5) for _ in range(50)))
    assert results.count(0) == 5
    assert max(store.counts.values(), default=0) == 5


async def test_a_dead_store_fails_open_to_a_per_process_count_and_is_logged_once(caplog):
    store = InMemoryRateLimitStore()
    store.down = True
    rl = limiter(store, Clock())
    verdicts = [await rl.admit("user:3", 10) for _ in range(12)]
    assert verdicts.count(0) == 10  # requests pass; this process still counts on its own
    assert rl.degraded
    assert sum("fail open" in r.getMessage() for r in caplog.records) == 1
    store.down = False
    await rl.sync()
    assert not rl.degraded
    assert max(store.counts.values()) == 10  # what was counted during the outage reaches the store


async def test_without_a_store_the_limit_holds_per_process():
    rl = limiter(None, Clock())
    assert [await rl.admit("k", 3) for _ in range(4)] == [0, 0, 0, 60]  # the clock sits on a window start
