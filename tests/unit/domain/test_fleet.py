"""The fleet service through in-memory adapters: heartbeats, expiry, one shared scaler, failing open."""

import asyncio
import logging

import pytest

from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.fleet import FixedQueueBacklog, InMemoryFleetRegistry
from domain.adapters.memory.health import FixedHostMetrics
from domain.adapters.memory.metrics import InMemoryMetrics
from domain.scaling import web_policy, worker_policy
from domain.services.fleet import WEB, WORKER, FleetService, Identity
from domain.services.health import HealthService

WEB_POLICY = web_policy(
    min_instances=2,
    max_instances=8,
    target_cpu=70,
    target_memory=80,
    low_cpu=30,
    scale_out_cooldown_s=300,
    scale_in_cooldown_s=600,
    window_s=30,
)
WORKER_POLICY = worker_policy(
    min_instances=1,
    max_instances=8,
    target_backlog=20,
    target_queue_age_s=30,
    scale_out_cooldown_s=300,
    scale_in_cooldown_s=600,
    window_s=30,
)
HEARTBEAT_S, TTL_S = 5.0, 15.0


@pytest.fixture
def clock() -> FixedClock:
    clock = FixedClock()
    clock.set(1_000_000.0)
    return clock


@pytest.fixture
def registry(clock: FixedClock) -> InMemoryFleetRegistry:
    return InMemoryFleetRegistry(clock)


def member(
    registry: InMemoryFleetRegistry,
    clock: FixedClock,
    process: str,
    instance: str,
    pid: int,
    *,
    cpu: float = 50.0,
    backlog: FixedQueueBacklog | None = None,
    metrics: InMemoryMetrics | None = None,
) -> tuple[FleetService, FixedHostMetrics]:
    host = FixedHostMetrics(cpu=cpu, memory=40.0)
    service = FleetService(
        registry,
        host,
        {WEB: WEB_POLICY, WORKER: WORKER_POLICY},
        me=Identity(process=process, instance=instance, pid=pid, started_at=clock.time()),
        backlog=backlog or FixedQueueBacklog(),
        heartbeat_s=HEARTBEAT_S,
        ttl_s=TTL_S,
        metrics=metrics or InMemoryMetrics(),
        clock=clock,
    )
    return service, host


def at(clock: FixedClock, now: float, health: HealthService) -> str:
    clock.set(now)
    return health.recommendation()


async def test_processes_are_grouped_into_instances_and_drop_out_after_the_ttl(registry, clock):
    a1, _ = member(registry, clock, WEB, "host-a", 11, cpu=40)
    a2, _ = member(registry, clock, WEB, "host-a", 12, cpu=60)
    b1, _ = member(registry, clock, WEB, "host-b", 21, cpu=20)
    w1, _ = member(registry, clock, WORKER, "host-c", 31)
    for service in (a1, a2, b1, w1):
        await service.beat()
    web = await a1.view(WEB)
    assert (web.live_instances, web.live_processes) == (2, 3)
    assert [(i.instance, [p.pid for p in i.processes]) for i in web.instances] == [
        ("host-a", [11, 12]),
        ("host-b", [21]),
    ]
    assert web.instances[0].cpu_percent == 50.0
    assert web.latest["cpu"] == 35.0  # instances weigh the same, whatever their process count
    assert (await a1.view(WORKER)).live_instances == 1
    clock.advance(10)
    await a1.beat()
    clock.advance(TTL_S - 5)  # b1 and a2 last beat TTL_S ago: gone; a1 beat 5 s ago
    web = await a1.view(WEB)
    assert [(i.instance, [p.pid for p in i.processes]) for i in web.instances] == [("host-a", [11])]
    assert web.instances[0].processes[0].seen_s_ago == 10.0


async def test_one_process_decides_per_period_and_every_process_reads_the_same_decision(registry, clock):
    a, _ = member(registry, clock, WEB, "host-a", 1)
    b, _ = member(registry, clock, WEB, "host-b", 2)
    assert await a.decide(WEB) is not None
    assert await b.decide(WEB) is None  # a holds the period
    clock.advance(HEARTBEAT_S)
    assert await b.decide(WEB) is not None  # a's claim lapsed: b continues from a's state
    record = await registry.load(WEB)
    assert record is not None
    assert len(record.state.samples) == 2
    assert await a.view(WEB) == await b.view(WEB)


async def test_overloaded_web_fleet_scales_out_and_the_cooldown_is_shared(registry, clock):
    fleet = [member(registry, clock, WEB, f"host-{i}", i, cpu=95) for i in range(2)]
    decided = []
    for _ in range(8):  # 35 s: a whole 30 s window
        for service, _host in fleet:
            await service.tick()
        decided.append(await fleet[0][0].view(WEB))
        clock.advance(HEARTBEAT_S)
    out = next(v for v in decided if v.direction == "out")
    assert (out.live_instances, out.desired) == (2, 3)  # ceil(2 x 95 / 70)
    assert out.reason.startswith("cpu 95.0 above target 70")
    assert out.cooldown_until == out.decided_at + 300
    latest = decided[-1]
    assert (latest.direction, latest.desired) == ("hold", 3)
    assert latest.cooldown_until == out.cooldown_until


async def test_workers_scale_on_the_queue_backlog_per_worker(registry, clock):
    queue = FixedQueueBacklog(queued=90, oldest_age_s=12.0)
    worker, _ = member(registry, clock, WORKER, "host-w", 7, backlog=queue)
    for _ in range(8):
        await worker.tick()
        clock.advance(HEARTBEAT_S)
    view = await worker.view(WORKER)
    assert view.metrics == {"backlog": 90.0, "queue_age_s": 12.0}
    assert view.desired == 5  # ceil(1 x 90 / 20)
    assert view.latest["backlog"] == 90.0


async def test_no_decision_yet_is_said_plainly(registry, clock):
    a, _ = member(registry, clock, WEB, "host-a", 1)
    view = await a.view(WORKER)
    assert (view.live_instances, view.desired, view.direction) == (0, None, None)
    assert view.reason.startswith("no decision yet")


async def test_the_heartbeat_fails_open_and_logs_once(registry, clock, caplog):
    a, _ = member(registry, clock, WEB, "host-a", 1)
    a._heartbeat_s = 0.01
    registry.down = True
    with caplog.at_level(logging.INFO, logger="folio.fleet"):
        task = asyncio.create_task(a.run())
        await asyncio.sleep(0.1)
        assert not task.done()
        registry.down = False
        await asyncio.sleep(0.05)
        task.cancel()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("fleet heartbeat failing" in m for m in messages) == 1
    assert any("recovered" in m for m in messages)
    assert (await a.view(WEB)).live_processes == 1


def test_health_says_up_above_the_cpu_target_down_below_the_low_mark():
    host = FixedHostMetrics(cpu=50, memory=40)
    clock = FixedClock()
    health = HealthService(host, [], policy=WEB_POLICY, clock=clock, sample_interval_s=1.0)
    for t in range(30):
        assert at(clock, float(t), health) == "maintain"
    host.cpu = 95  # one spike in a 30 s window of 50 %: still "maintain"
    assert at(clock, 30.0, health) == "maintain"
    assert at(clock, 30.5, health) == "maintain"  # at most one sample per interval
    for t in range(31, 60):
        at(clock, float(t), health)
    assert at(clock, 60.0, health) == "up"
    host.cpu = 10
    for t in range(61, 100):
        at(clock, float(t), health)
    assert at(clock, 100.0, health) == "down"
    host.memory = 85  # memory at or above its target blocks "down" and, above it, says "up"
    for t in range(101, 140):
        at(clock, float(t), health)
    assert at(clock, 140.0, health) == "up"


async def test_each_tick_sets_the_fleet_gauges_once_a_decision_exists(registry, clock):
    metrics = InMemoryMetrics()
    a, _ = member(registry, clock, WEB, "host-a", 1, cpu=95, metrics=metrics)
    await a.tick()
    assert metrics.gauges[("fleet", WEB, "instances")] == 1
    assert metrics.gauges[("fleet", WEB, "desired")] == 2  # the minimum, while the window warms up
    assert metrics.gauges[("fleet", WORKER, "instances")] == 0
    assert metrics.gauges[("fleet", WORKER, "desired")] == 1
