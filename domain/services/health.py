"""Health: the host's load from a background sampler, and whether each dependency answers.

`scale_recommendation` comes from the autoscaling policy (domain/scaling.py) run on this process's
own samples, averaged over the policy's window so one spike does not say "up". One instance cannot
scale in to fewer than one, so the recommendation is the policy's push before rounding, bounds and
cooldowns: "up" when a metric is above its target (CPU above AUTO_SCALE_TARGET_CPU, as the seed
said, or memory above AUTO_SCALE_TARGET_MEMORY), "down" when every metric is below its low mark
(CPU below AUTO_SCALE_LOW_CPU, memory below its target), else "maintain". The fleet's decision,
with bounds and cooldowns, is `/api/ops/scaling`.
"""

import asyncio
import time
from collections.abc import Sequence
from typing import Literal

import msgspec

from domain.ports.clock import Clock
from domain.ports.health import DependencyProbe, HostMetrics
from domain.scaling import Autoscaler, Direction, ScalingPolicy, pressure

ScaleRecommendation = Literal["up", "down", "maintain"]
RECOMMENDATIONS: dict[Direction, ScaleRecommendation] = {"out": "up", "in": "down", "hold": "maintain"}


class DependencyCheck(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["up", "down"]
    latency_ms: float
    error: str | None = None


class HealthReport(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["healthy", "degraded", "unhealthy"]
    cpu_percent: float
    memory_percent: float
    scale_recommendation: ScaleRecommendation
    checks: dict[str, DependencyCheck]

    @property
    def down(self) -> list[str]:
        return [name for name, check in self.checks.items() if check.status == "down"]


class HealthService:
    """Answers health questions without blocking: samples come from a background sampler."""

    def __init__(
        self,
        metrics: HostMetrics,
        probes: Sequence[DependencyProbe],
        *,
        policy: ScalingPolicy,
        clock: Clock,
        sample_interval_s: float = 1.0,
        critical: frozenset[str] = frozenset({"database"}),
        timeout_s: float = 0.8,  # the probes' budget: /health and /health/ready answer within 1 s in all
        cache_s: float = 1.0,
    ) -> None:
        self._metrics = metrics
        self._probes = tuple(probes)
        self._policy = policy
        self._clock = clock
        self._scaler = Autoscaler(policy)
        self._sample_interval_s = sample_interval_s
        self._sampled_at: float | None = None
        self._critical = critical
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._last: tuple[float, dict[str, DependencyCheck]] | None = None
        self._round: asyncio.Future[dict[str, DependencyCheck]] | None = None
        self._stragglers: set[asyncio.Future[DependencyCheck]] = set()  # probes past the budget, still ending

    @property
    def critical(self) -> frozenset[str]:
        """The dependencies without which this process cannot serve (the others fail open)."""
        return self._critical

    async def report(self) -> HealthReport:
        checks = await self.checks()
        down = {name for name, check in checks.items() if check.status == "down"}
        status: Literal["healthy", "degraded", "unhealthy"] = "healthy"
        if down:
            status = "unhealthy" if down & self._critical else "degraded"
        return HealthReport(
            status=status,
            cpu_percent=self._metrics.cpu_percent(),
            memory_percent=self._metrics.memory_percent(),
            scale_recommendation=self.recommendation(),
            checks=checks,
        )

    def recommendation(self) -> ScaleRecommendation:
        """Feed the latest sample to this process's scaler (once per sample interval), and read its push."""
        now = self._clock.time()
        if self._sampled_at is None or now - self._sampled_at >= self._sample_interval_s:
            sample = {"cpu": self._metrics.cpu_percent(), "memory": self._metrics.memory_percent()}
            self._scaler.observe(now, 1, sample)
            self._sampled_at = now
        return RECOMMENDATIONS[pressure(self._policy, self._scaler.smoothed(now))]

    async def sample_forever(self) -> None:
        """Keep the window fed between requests, so the recommendation is a mean over time, not over calls."""
        while True:
            self.recommendation()
            await asyncio.sleep(self._sample_interval_s)

    async def checks(self) -> dict[str, DependencyCheck]:
        """Every dependency's state, within the budget (`timeout_s`) whatever the dependencies do.

        Results are reused for `cache_s`. Concurrent callers share one round of probes rather than
        queue behind a lock, and a round never waits for a probe past the budget: one that has not
        answered by then is reported "timed out" and left to end on its own (each probe has its own
        deadline below the budget; awaiting a cancelled psycopg call could take seconds more).
        """
        if self._last is not None and time.monotonic() - self._last[0] < self._cache_s:
            return self._last[1]
        if self._round is None or self._round.done():
            self._round = asyncio.ensure_future(self._probe_all())
        # Shielded: a caller that goes away does not cancel the round the others wait for.
        return await asyncio.shield(self._round)

    async def _probe_all(self) -> dict[str, DependencyCheck]:
        start = time.perf_counter()
        tasks = [asyncio.ensure_future(self._probe(p)) for p in self._probes]
        await asyncio.wait(tasks, timeout=self._timeout_s)
        checks: dict[str, DependencyCheck] = {}
        for probe, task in zip(self._probes, tasks, strict=True):
            if task.done():
                checks[probe.name] = task.result()
            else:
                task.cancel()
                self._stragglers.add(task)
                task.add_done_callback(self._stragglers.discard)
                checks[probe.name] = DependencyCheck(status="down", latency_ms=_ms(start), error="timed out")
        self._last = (time.monotonic(), checks)
        return checks

    async def _probe(self, probe: DependencyProbe) -> DependencyCheck:
        start = time.perf_counter()
        try:
            await probe.check()
        except Exception as e:  # noqa: BLE001 - any failure means "down"; the reason is reported
            reason = "timed out" if isinstance(e, TimeoutError) else type(e).__name__
            return DependencyCheck(status="down", latency_ms=_ms(start), error=reason)
        return DependencyCheck(status="up", latency_ms=_ms(start))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
