"""The fleet view: every process's heartbeat, and for each process type the scaler's decision.

Every process (each Granian worker, each Dramatiq worker process) publishes its sample every
`heartbeat_s`, with a TTL, so a dead process drops out. An instance is the unit a platform scales
(a container, dyno or pod; several processes share it), named by INSTANCE_ID or the host name.

The scaler's state is shared, not per process: in each heartbeat period one process (whoever claims
the period first) reads the live fleet, loads the type's `ScalerRecord` (window samples, last
desired count, cooldowns), observes, and stores the record back. Every process then reads the same
decision, so `/api/ops/scaling` and the gauges agree whichever process answers, and a restarted
process neither forgets a cooldown nor restarts the window.
"""

import asyncio
import logging
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import msgspec

from domain.models.fleet import ProcessSample
from domain.ports.clock import Clock
from domain.ports.fleet import FleetRegistry, QueueBacklog
from domain.ports.health import HostMetrics
from domain.ports.metrics import Metrics
from domain.scaling import Autoscaler, ScalerRecord, ScalingPolicy

log = logging.getLogger("folio.fleet")

WEB, WORKER = "web", "worker"
LEAD_FRACTION = 0.8  # a claim lapses before the next period, so some process computes every period


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    process: str
    instance: str
    pid: int
    started_at: float


class ProcessView(msgspec.Struct, frozen=True, kw_only=True):
    pid: int
    cpu_percent: float
    memory_percent: float
    seen_s_ago: float
    started_at: float


class InstanceView(msgspec.Struct, frozen=True, kw_only=True):
    instance: str
    cpu_percent: float
    memory_percent: float
    processes: list[ProcessView]


class FleetView(msgspec.Struct, frozen=True, kw_only=True):
    """One process type: who is live, what the scaler saw and what it decided."""

    process: str
    live_instances: int
    live_processes: int
    instances: list[InstanceView]
    latest: dict[str, float]  # the fleet now: mean CPU and memory of the live instances, the queue
    metrics: dict[str, float]  # what the decision used: each tracked metric's mean over the window
    desired: int | None
    direction: Literal["out", "in", "hold"] | None
    reason: str
    cooldown_until: float | None  # epoch seconds
    decided_at: float | None


class FleetService:
    """Publishes this process's heartbeat and keeps each process type's scaling decision current."""

    def __init__(
        self,
        registry: FleetRegistry,
        host: HostMetrics,
        policies: Mapping[str, ScalingPolicy],
        *,
        me: Identity,
        backlog: QueueBacklog | None,
        heartbeat_s: float,
        ttl_s: float,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._host = host
        self._policies = dict(policies)
        self.me = me
        self._backlog = backlog
        self._heartbeat_s = heartbeat_s
        self._ttl_s = ttl_s
        self._metrics = metrics
        self._clock = clock
        self._failing = False

    @property
    def process_types(self) -> list[str]:
        return list(self._policies)

    async def beat(self) -> None:
        """Publish this process's latest sample."""
        me = self.me
        sample = ProcessSample(
            process=me.process,
            instance=me.instance,
            pid=me.pid,
            at=self._clock.time(),
            started_at=me.started_at,
            cpu_percent=self._host.cpu_percent(),
            memory_percent=self._host.memory_percent(),
        )
        await self._registry.publish(sample, self._ttl_s)

    async def decide(self, process: str) -> ScalerRecord | None:
        """If this process claims the period for `process`: observe that fleet and store the decision."""
        holder = f"{self.me.instance}:{self.me.pid}"
        if not await self._registry.lead(process, holder, self._heartbeat_s * LEAD_FRACTION):
            return None
        samples = await self._registry.live(process)
        current = len(group_by_instance(samples))
        metrics = await self._scaling_metrics(process, samples, current)
        previous = await self._registry.load(process)
        scaler = Autoscaler(self._policies[process], previous.state if previous is not None else None)
        now = self._clock.time()
        record = ScalerRecord(state=scaler.state, decision=scaler.observe(now, current, metrics), decided_at=now)
        await self._registry.save(process, record)
        return record

    async def view(self, process: str) -> FleetView:
        """The type's live instances (read now) and its latest stored decision."""
        samples = await self._registry.live(process)
        record = await self._registry.load(process)
        return build_view(process, samples, record, self._clock.time())

    async def views(self) -> list[FleetView]:
        return [await self.view(process) for process in self._policies]

    async def tick(self) -> list[FleetView]:
        """One heartbeat: publish, take this period's decisions if no one has, read the views, set the gauges."""
        await self.beat()
        for process in self._policies:
            await self.decide(process)
        views = await self.views()
        for view in views:
            self._gauge(view)
        return views

    def _gauge(self, view: FleetView) -> None:
        # Until some process has decided, there is no desired count to show an external scaler.
        if view.desired is None:
            return
        cpu, memory = view.latest.get("cpu", 0.0), view.latest.get("memory", 0.0)
        self._metrics.set_fleet(view.process, view.live_instances, view.desired, cpu, memory)

    async def run(self, on_views: Callable[[list[FleetView]], None] | None = None) -> None:
        """Beat every `heartbeat_s` until cancelled; an unavailable registry is logged once, never fatal."""
        while True:
            try:
                async with asyncio.timeout(max(self._heartbeat_s, 1.0)):
                    views = await self.tick()
                if on_views is not None:
                    on_views(views)
                self._recovered()
            except Exception as e:  # noqa: BLE001 - the heartbeat fails open: the process keeps serving
                self._failed(e)
            await asyncio.sleep(self._heartbeat_s)

    async def _scaling_metrics(self, process: str, samples: Sequence[ProcessSample], current: int) -> dict[str, float]:
        if process != WORKER:
            return fleet_load(samples)
        if self._backlog is None:
            return {}
        backlog = await self._backlog.measure()
        return {"backlog": backlog.queued / max(current, 1), "queue_age_s": backlog.oldest_age_s}

    def _failed(self, e: BaseException) -> None:
        if not self._failing:
            log.warning("fleet heartbeat failing (%s); retrying every %ss", e, self._heartbeat_s)
            self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("fleet heartbeat recovered")
            self._failing = False


def group_by_instance(samples: Sequence[ProcessSample]) -> dict[str, list[ProcessSample]]:
    instances: dict[str, list[ProcessSample]] = {}
    for sample in sorted(samples, key=lambda s: (s.instance, s.pid)):
        instances.setdefault(sample.instance, []).append(sample)
    return instances


def fleet_load(samples: Sequence[ProcessSample]) -> dict[str, float]:
    """Mean CPU and memory over instances (each instance the mean of its processes), as the scaler tracks."""
    instances = group_by_instance(samples).values()
    if not instances:
        return {}
    cpu = statistics.fmean(statistics.fmean(s.cpu_percent for s in group) for group in instances)
    memory = statistics.fmean(statistics.fmean(s.memory_percent for s in group) for group in instances)
    return {"cpu": round(cpu, 2), "memory": round(memory, 2)}


def build_view(process: str, samples: Sequence[ProcessSample], record: ScalerRecord | None, now: float) -> FleetView:
    instances = [_instance_view(name, group, now) for name, group in group_by_instance(samples).items()]
    latest = fleet_load(samples)
    if record is not None and record.state.samples:
        latest = {**latest, **record.state.samples[-1].values}
    decision = record.decision if record is not None else None
    return FleetView(
        process=process,
        live_instances=len(instances),
        live_processes=len(samples),
        instances=instances,
        latest=latest,
        metrics={k: round(v, 2) for k, v in decision.metrics.items()} if decision else {},
        desired=decision.desired if decision else None,
        direction=decision.direction if decision else None,
        reason=decision.reason if decision else "no decision yet: no process has computed one",
        cooldown_until=decision.cooldown_until if decision else None,
        decided_at=record.decided_at if record is not None else None,
    )


def _instance_view(name: str, group: Sequence[ProcessSample], now: float) -> InstanceView:
    processes = [
        ProcessView(
            pid=s.pid,
            cpu_percent=s.cpu_percent,
            memory_percent=s.memory_percent,
            seen_s_ago=round(max(now - s.at, 0.0), 3),
            started_at=s.started_at,
        )
        for s in group
    ]
    return InstanceView(
        instance=name,
        cpu_percent=round(statistics.fmean(p.cpu_percent for p in processes), 2),
        memory_percent=round(statistics.fmean(p.memory_percent for p in processes), 2),
        processes=processes,
    )
