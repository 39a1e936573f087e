"""The metrics recorder for tests: what was recorded, by name and labels."""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from domain.adapters.null_metrics import NullMetrics

log = logging.getLogger("folio.metrics")


class InMemoryMetrics(NullMetrics):
    """Remembers what was recorded: `counts[("cache", "holdings", "hit")]`, `gauges`, `observed`."""

    enabled = True

    def __init__(self, tick_s: float = 1.0) -> None:
        self.tick_s = tick_s
        self.counts: Counter[tuple[str, ...]] = Counter()
        self.gauges: dict[tuple[str, ...], float] = {}
        self.observed: dict[tuple[str, ...], list[float]] = {}
        self.watchers: list[Callable[[], None]] = []

    def _observe(self, key: tuple[str, ...], value: float) -> None:
        self.observed.setdefault(key, []).append(value)

    def request(self, route: str, method: str, status: int, seconds: float, sent_bytes: int, encoding: str) -> None:
        self.counts[("request", route, method, str(status))] += 1
        self.counts[("sent", route, encoding)] += sent_bytes
        self._observe(("request", route), seconds)

    def slow_request(self, route: str) -> None:
        self.counts[("slow", route)] += 1

    def cache(self, cache: str, result: str) -> None:
        self.counts[("cache", cache, result)] += 1

    def query(self, name: str, seconds: float) -> None:
        self._observe(("query", name), seconds)

    def pool(self, *, size: int, idle: int, waiting: int, max_size: int, timeouts: int) -> None:
        self.gauges.update({("pool", "size"): size, ("pool", "idle"): idle, ("pool", "waiting"): waiting})
        self.gauges[("pool", "max")] = max_size
        self.counts[("pool", "timeouts")] += timeouts

    def valkey_error(self, operation: str) -> None:
        self.counts[("valkey_error", operation)] += 1

    def breaker(self, name: str, state: str) -> None:
        self.gauges[("breaker", name)] = {"closed": 0, "half-open": 1}.get(state, 2)

    def reports(self, counts: dict[str, int], queue_depth: int, oldest_age_s: float) -> None:
        self.gauges.update({("reports", status): count for status, count in counts.items()})
        self.gauges[("queue", "depth")] = queue_depth
        self.gauges[("queue", "oldest_age_s")] = oldest_age_s

    def worker_message(self, actor: str, outcome: str) -> None:
        self.counts[("message", actor, outcome)] += 1

    def report_attempt(self, outcome: str, seconds: float) -> None:
        self.counts[("report", outcome)] += 1
        self._observe(("report",), seconds)

    def set_fleet(self, process: str, instances: int, desired: int, cpu: float, memory: float) -> None:
        self.gauges.update({("fleet", process, "instances"): instances, ("fleet", process, "desired"): desired})

    def watch(self, sample: Callable[[], None]) -> Callable[[], None]:
        self.watchers.append(sample)
        return lambda: self.watchers.remove(sample)

    def tick(self) -> None:
        """Call every watcher once, as `run` does every `tick_s`; a failing one does not stop the others."""
        for sample in list(self.watchers):
            try:
                sample()
            except Exception:
                log.exception("metrics sampler failed")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.tick()

    async def exposition(self) -> tuple[bytes, str] | None:
        lines = [f"{'_'.join(key)} {value}" for key, value in sorted(self.counts.items())]
        return "\n".join(lines).encode(), "text/plain; charset=utf-8"
