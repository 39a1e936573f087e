"""Health checks answer within their budget whatever a probe does, and concurrent callers share one round."""

import asyncio
import contextlib
import time

from domain.adapters.clock import SystemClock
from domain.adapters.memory.health import FixedHostMetrics
from domain.scaling import web_policy
from domain.services.health import HealthService

POLICY = web_policy(
    min_instances=2,
    max_instances=8,
    target_cpu=70,
    target_memory=80,
    low_cpu=30,
    scale_out_cooldown_s=300,
    scale_in_cooldown_s=600,
    window_s=30,
)
BUDGET_S = 0.3


class StuckProbe:
    """Hangs, and on cancellation keeps waiting a while, as a psycopg call does while it cancels."""

    name = "database"

    def __init__(self) -> None:
        self.calls = 0

    async def check(self) -> None:
        self.calls += 1
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(2)
            raise


class UpProbe:
    name = "cache"

    async def check(self) -> None:
        await asyncio.sleep(0.01)


async def test_a_stuck_probe_is_reported_down_within_the_budget_and_callers_share_one_round():
    stuck = StuckProbe()
    health = HealthService(
        FixedHostMetrics(cpu=10, memory=10), [stuck, UpProbe()], policy=POLICY, clock=SystemClock(), timeout_s=BUDGET_S
    )
    started = time.perf_counter()
    results = await asyncio.gather(*(health.checks() for _ in range(10)))
    elapsed = time.perf_counter() - started

    assert elapsed < BUDGET_S + 0.2  # not the probe's 2 s of cancelling, nor 10 rounds in a queue
    assert stuck.calls == 1
    for checks in results:
        assert checks["database"].status == "down"
        assert checks["database"].error == "timed out"
        assert checks["cache"].status == "up"
    report = await health.report()  # within the cache's second: the same round, no new probe
    assert report.status == "unhealthy"
    assert stuck.calls == 1


async def test_a_caller_that_goes_away_does_not_cancel_the_round_others_wait_for():
    stuck = StuckProbe()
    health = HealthService(
        FixedHostMetrics(cpu=10, memory=10), [stuck, UpProbe()], policy=POLICY, clock=SystemClock(), timeout_s=BUDGET_S
    )
    leaving = asyncio.ensure_future(health.checks())
    staying = asyncio.ensure_future(health.checks())
    await asyncio.sleep(0.05)
    leaving.cancel()
    checks = await staying
    assert checks["cache"].status == "up"
    assert checks["database"].status == "down"
