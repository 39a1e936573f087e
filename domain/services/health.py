"""Health: the host's load from a background sampler, and whether each dependency answers."""

import asyncio
import time
from collections.abc import Sequence
from typing import Literal

import msgspec

from domain.ports import DependencyProbe, HostMetrics

ScaleRecommendation = Literal["up", "down", "maintain"]


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


def recommend_scale(cpu_percent: float, target: float, low: float) -> ScaleRecommendation:
    """The seed's rule: scale up above the CPU target, down below the low mark."""
    if cpu_percent > target:
        return "up"
    if cpu_percent < low:
        return "down"
    return "maintain"


class HealthService:
    """Answers health questions without blocking: samples come from a background sampler."""

    def __init__(
        self,
        metrics: HostMetrics,
        probes: Sequence[DependencyProbe],
        *,
        cpu_target: float,
        cpu_low: float,
        critical: frozenset[str] = frozenset({"database"}),
        timeout_s: float = 1.0,
        cache_s: float = 1.0,
    ) -> None:
        self._metrics = metrics
        self._probes = tuple(probes)
        self._cpu_target = cpu_target
        self._cpu_low = cpu_low
        self._critical = critical
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._last: tuple[float, dict[str, DependencyCheck]] | None = None
        self._lock = asyncio.Lock()

    async def report(self) -> HealthReport:
        checks = await self.checks()
        down = {name for name, check in checks.items() if check.status == "down"}
        status: Literal["healthy", "degraded", "unhealthy"] = "healthy"
        if down:
            status = "unhealthy" if down & self._critical else "degraded"
        cpu = self._metrics.cpu_percent()
        return HealthReport(
            status=status,
            cpu_percent=cpu,
            memory_percent=self._metrics.memory_percent(),
            scale_recommendation=recommend_scale(cpu, self._cpu_target, self._cpu_low),
            checks=checks,
        )

    async def checks(self) -> dict[str, DependencyCheck]:
        """Probe every dependency at once, each with a deadline; results are reused for `cache_s`."""
        async with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self._cache_s:
                return self._last[1]
            results = await asyncio.gather(*(self._probe(p) for p in self._probes))
            checks = {p.name: r for p, r in zip(self._probes, results, strict=True)}
            self._last = (time.monotonic(), checks)
            return checks

    async def _probe(self, probe: DependencyProbe) -> DependencyCheck:
        start = time.perf_counter()
        try:
            await asyncio.wait_for(probe.check(), self._timeout_s)
        except Exception as e:  # noqa: BLE001 - any failure means "down"; the reason is reported
            reason = "timed out" if isinstance(e, TimeoutError) else type(e).__name__
            return DependencyCheck(status="down", latency_ms=_ms(start), error=reason)
        return DependencyCheck(status="up", latency_ms=_ms(start))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
