"""In-memory twins of the operating ports: fixed host load, rate-limit counters, the fleet
registry, the queue backlog, and the metrics (a null one and a recorder)."""

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence

import msgspec

from domain.errors import UnavailableError
from domain.models import (
    Backlog,
    ProcessSample,
)
from domain.ops_ports import FleetRegistry, HostMetrics, Metrics, QueueBacklog
from domain.ports import (
    RateLimitStore,
)
from domain.scaling import ScalerRecord


class FixedHostMetrics(HostMetrics):
    def __init__(self, cpu: float = 10.0, memory: float = 20.0) -> None:
        self.cpu = cpu
        self.memory = memory

    def cpu_percent(self) -> float:
        return self.cpu

    def memory_percent(self) -> float:
        return self.memory


class InMemoryRateLimitStore(RateLimitStore):
    """Shared counters in a dict; `down = True` makes every call fail as an unreachable store would."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.calls = 0
        self.down = False

    async def add(self, deltas: Sequence[tuple[str, int, int]], ttl_s: int) -> list[int]:
        self.calls += 1
        await asyncio.sleep(0)  # a round trip: other requests run meanwhile
        if self.down:
            raise UnavailableError("the rate-limit store is down")
        totals = []
        for digest, window, delta in deltas:
            total = self.counts[(digest, window)] = self.counts.get((digest, window), 0) + delta
            totals.append(total)
        return totals


class InMemoryFleetRegistry(FleetRegistry):
    """Heartbeats with expiry times on an injectable clock; `down = True` makes every call fail."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._samples: dict[tuple[str, str, int], tuple[float, ProcessSample]] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._records: dict[str, bytes] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise UnavailableError("the fleet registry is down")

    async def publish(self, sample: ProcessSample, ttl_s: float) -> None:
        self._check()
        self._samples[(sample.process, sample.instance, sample.pid)] = (self._clock() + ttl_s, sample)

    async def live(self, process: str) -> list[ProcessSample]:
        self._check()
        now = self._clock()
        return [sample for (kind, *_), (until, sample) in self._samples.items() if kind == process and until > now]

    async def lead(self, process: str, holder: str, hold_s: float) -> bool:
        self._check()
        current = self._leases.get(process)
        if current is not None and current[1] > self._clock():
            return False
        self._leases[process] = (holder, self._clock() + hold_s)
        return True

    async def load(self, process: str) -> ScalerRecord | None:
        self._check()
        stored = self._records.get(process)
        return None if stored is None else msgspec.msgpack.decode(stored, type=ScalerRecord)

    async def save(self, process: str, record: ScalerRecord) -> None:
        self._check()
        self._records[process] = msgspec.msgpack.encode(record)  # a copy, as a real store keeps


class FixedQueueBacklog(QueueBacklog):
    def __init__(self, queued: int = 0, oldest_age_s: float = 0.0) -> None:
        self.backlog = Backlog(queued=queued, oldest_age_s=oldest_age_s)

    async def measure(self) -> Backlog:
        return self.backlog


class NullMetrics(Metrics):
    """METRICS=false: nothing is recorded, `/metrics` is not served."""

    def request(self, route: str, method: str, status: int, seconds: float, sent_bytes: int, encoding: str) -> None:
        pass

    def slow_request(self, route: str) -> None:
        pass

    def cache(self, cache: str, result: str) -> None:
        pass

    def query(self, name: str, seconds: float) -> None:
        pass

    def pool(self, *, size: int, idle: int, waiting: int, max_size: int, timeouts: int) -> None:
        pass

    def valkey_error(self, operation: str) -> None:
        pass

    def breaker(self, name: str, state: str) -> None:
        pass

    def host(self, cpu_percent: float, memory_percent: float) -> None:
        pass

    def reports(self, counts: dict[str, int], queue_depth: int, oldest_age_s: float) -> None:
        pass

    def report_attempt(self, outcome: str, seconds: float) -> None:
        pass

    def costs(self, *, instance_hour: float, bandwidth_gb: float, fixed_month: float, budget: float) -> None:
        pass

    def instance_bounds(self, process: str, minimum: int, maximum: int) -> None:
        pass

    def set_fleet(self, process: str, instances: int, desired: int, cpu: float, memory: float) -> None:
        pass

    def watch(self, sample: Callable[[], None]) -> Callable[[], None]:
        return lambda: None

    async def run(self) -> None:
        return

    async def exposition(self) -> tuple[bytes, str] | None:
        return None

    def close(self) -> None:
        pass


class InMemoryMetrics(NullMetrics):
    """Remembers what was recorded: `counts[("cache", "holdings", "hit")]`, `gauges`, `observed`."""

    def __init__(self) -> None:
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

    def report_attempt(self, outcome: str, seconds: float) -> None:
        self.counts[("report", outcome)] += 1
        self._observe(("report",), seconds)

    def set_fleet(self, process: str, instances: int, desired: int, cpu: float, memory: float) -> None:
        self.gauges.update({("fleet", process, "instances"): instances, ("fleet", process, "desired"): desired})

    def watch(self, sample: Callable[[], None]) -> Callable[[], None]:
        self.watchers.append(sample)
        return lambda: self.watchers.remove(sample)

    async def exposition(self) -> tuple[bytes, str] | None:
        lines = [f"{'_'.join(key)} {value}" for key, value in sorted(self.counts.items())]
        return "\n".join(lines).encode(), "text/plain; charset=utf-8"
