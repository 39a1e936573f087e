"""One contract for the fleet registry, run against the in-memory twin and the real Valkey adapter;
and the queue backlog read from a real Dramatiq queue on Valkey."""

import asyncio
import time
import uuid

import pytest
import valkey.asyncio as avalkey
from dramatiq import Message

from domain.adapters.clock import SystemClock
from domain.adapters.memory.fleet import InMemoryFleetRegistry
from domain.adapters.queue_backlog import ValkeyQueueBacklog
from domain.adapters.reports_queue import build_broker
from domain.adapters.valkey_fleet import ValkeyFleetRegistry
from domain.models.fleet import ProcessSample
from domain.ports.fleet import FleetRegistry
from domain.scaling import Autoscaler, ScalerRecord, web_policy
from tests.valkey_cluster import cluster_client

pytestmark = pytest.mark.integration
TTL_S = 0.3


@pytest.fixture(params=["memory", "valkey", "valkey-cluster"])
async def registry(request, servers):
    if request.param == "memory":
        yield InMemoryFleetRegistry(SystemClock())  # expiry on the real clock, as Valkey's TTLs
        return
    if request.param == "valkey-cluster":  # heartbeats of one process type in one slot
        client = cluster_client(request.getfixturevalue("valkey_cluster"))
    else:
        client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    yield ValkeyFleetRegistry(client)
    await client.aclose()


@pytest.fixture
def kind() -> str:
    """A process type of this test's own, so live processes of the session never appear in it."""
    return f"test-{uuid.uuid4().hex[:8]}"


def sample(kind: str, instance: str, pid: int, cpu: float = 10.0) -> ProcessSample:
    now = time.time()
    return ProcessSample(
        process=kind, instance=instance, pid=pid, at=now, started_at=now, cpu_percent=cpu, memory_percent=20.0
    )


async def eventually(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_published_samples_are_live_and_the_latest_one_wins(registry: FleetRegistry, kind: str):
    assert await registry.live(kind) == []
    await registry.publish(sample(kind, "a", 1, cpu=10.0), ttl_s=5)
    await registry.publish(sample(kind, "a", 1, cpu=30.0), ttl_s=5)
    await registry.publish(sample(kind, "b", 2), ttl_s=5)
    live = sorted(await registry.live(kind), key=lambda s: s.pid)
    assert [(s.instance, s.pid, s.cpu_percent) for s in live] == [("a", 1, 30.0), ("b", 2, 10.0)]
    assert await registry.live(f"{kind}-other") == []


async def test_a_silent_process_drops_out_after_its_ttl(registry: FleetRegistry, kind: str):
    await registry.publish(sample(kind, "a", 1), ttl_s=TTL_S)
    await registry.publish(sample(kind, "b", 2), ttl_s=30)

    async def only_b() -> bool:
        return [s.pid for s in await registry.live(kind)] == [2]

    await eventually(only_b)


async def test_one_claim_per_period(registry: FleetRegistry, kind: str):
    assert await registry.lead(kind, "a:1", TTL_S) is True
    assert await registry.lead(kind, "b:2", TTL_S) is False
    assert await registry.lead(f"{kind}-other", "b:2", TTL_S) is True  # per process type

    async def b_claims() -> bool:
        return await registry.lead(kind, "b:2", TTL_S)

    await eventually(b_claims)


async def test_the_scaler_record_round_trips(registry: FleetRegistry, kind: str):
    assert await registry.load(kind) is None
    policy = web_policy(
        min_instances=2,
        max_instances=8,
        target_cpu=70,
        target_memory=80,
        low_cpu=30,
        scale_out_cooldown_s=300,
        scale_in_cooldown_s=600,
        window_s=10,
    )
    scaler = Autoscaler(policy)
    scaler.observe(0.0, 2, {"cpu": 90.0, "memory": 10.0})
    decision = scaler.observe(10.0, 2, {"cpu": 90.0, "memory": 10.0})
    record = ScalerRecord(state=scaler.state, decision=decision, decided_at=10.0)
    await registry.save(kind, record)
    assert await registry.load(kind) == record


async def test_the_backlog_is_the_dramatiq_queue_length_and_its_oldest_message_age(servers):
    queue = f"fleettest{uuid.uuid4().hex[:8]}"
    broker = build_broker(servers.valkey_url, socket_timeout_s=1)
    broker.declare_queue(queue)
    client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    backlog = ValkeyQueueBacklog(client, queue)
    try:
        assert (await backlog.measure()).queued == 0
        sent_ms = int(time.time() * 1000) - 40_000
        for report_id in ("r1", "r2", "r3"):
            message = Message(queue_name=queue, actor_name="noop", args=(report_id,), kwargs={}, options={})
            broker.enqueue(message._replace(message_timestamp=sent_ms))
        measured = await backlog.measure()
        assert measured.queued == 3
        assert 40 <= measured.oldest_age_s < 60
    finally:
        broker.flush(queue)
        broker.close()
        await client.aclose()
