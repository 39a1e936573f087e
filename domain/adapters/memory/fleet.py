"""In-memory twins of the fleet ports: the heartbeat registry and a fixed queue backlog."""

import msgspec

from domain.adapters.memory.clock import FixedClock
from domain.errors import UnavailableError
from domain.models.fleet import Backlog, ProcessSample
from domain.ports.clock import Clock
from domain.ports.fleet import FleetRegistry, QueueBacklog
from domain.scaling import ScalerRecord


class InMemoryFleetRegistry(FleetRegistry):
    """Heartbeats with expiry times on an injectable clock; `down = True` makes every call fail."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or FixedClock()
        self._samples: dict[tuple[str, str, int], tuple[float, ProcessSample]] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._records: dict[str, bytes] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise UnavailableError("the fleet registry is down")

    async def publish(self, sample: ProcessSample, ttl_s: float) -> None:
        self._check()
        self._samples[(sample.process, sample.instance, sample.pid)] = (self._clock.time() + ttl_s, sample)

    async def live(self, process: str) -> list[ProcessSample]:
        self._check()
        now = self._clock.time()
        return [sample for (kind, *_), (until, sample) in self._samples.items() if kind == process and until > now]

    async def lead(self, process: str, holder: str, hold_s: float) -> bool:
        self._check()
        current = self._leases.get(process)
        if current is not None and current[1] > self._clock.time():
            return False
        self._leases[process] = (holder, self._clock.time() + hold_s)
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
