"""One contract for the report queue, run against the in-memory twin and the real Dramatiq queue on Valkey.

The real side is read back as a worker reads it: a Dramatiq `RedisBroker` consumer on the same Valkey.
Each test sends to a queue of its own, so the session's workers (on `reports`) never take its messages.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import valkey.asyncio as avalkey
from dramatiq import Message

from cli.embedded import EmbeddedServers
from config.queues import GENERATE_REPORT_ACTOR
from domain.adapters.memory.reports import InMemoryReportQueue
from domain.adapters.queue_backlog import ValkeyQueueBacklog
from domain.adapters.reports_queue import ValkeyReportQueue, build_broker
from domain.errors import UnavailableError
from domain.ports.reports import ReportQueue

pytestmark = pytest.mark.integration


@dataclass
class Line:
    """A queue, what a worker would take off it, and a queue whose broker does not answer."""

    queue: ReportQueue
    take: Callable[[int], Awaitable[list[str]]]  # up to n report ids, waiting a little for them
    unreachable: ReportQueue


def take_from_valkey(url: str, queue: str, count: int) -> list[Message[object]]:
    """What a worker would fetch: up to `count` messages (acknowledged), and at most one extra poll."""
    broker = build_broker(url, socket_timeout_s=1)
    consumer = broker.consume(queue, prefetch=count + 1, timeout=200)
    taken: list[Message[object]] = []
    deadline = time.monotonic() + 5
    try:
        while len(taken) <= count and time.monotonic() < deadline:
            message = next(consumer)
            if message is None:
                if len(taken) == count:
                    break  # an empty poll after the last one: nothing more came
                continue
            taken.append(message._message)
            consumer.ack(message)
    finally:
        consumer.close()
        broker.flush(queue)
        broker.close()
    return taken


def valkey_queue(client: avalkey.Valkey, queue: str) -> ValkeyReportQueue:
    return ValkeyReportQueue(client, queue_name=queue, actor_name=GENERATE_REPORT_ACTOR, heartbeat_timeout_ms=15_000)


@pytest.fixture(params=["memory", "valkey"])
async def line(request: pytest.FixtureRequest, servers: EmbeddedServers) -> AsyncIterator[Line]:
    if request.param == "memory":
        queue, down = InMemoryReportQueue(), InMemoryReportQueue()
        down.available = False

        async def take_sent(count: int) -> list[str]:
            taken, queue.sent[:] = queue.sent[:], []
            return taken

        yield Line(queue, take_sent, down)
        return
    name = f"contract{uuid.uuid4().hex[:8]}"
    client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    dead = avalkey.Valkey.from_url("redis://127.0.0.1:1", socket_timeout=0.2, socket_connect_timeout=0.2)

    async def take(count: int) -> list[str]:
        messages = await asyncio.to_thread(take_from_valkey, servers.valkey_url, name, count)
        return [str(m.args[0]) for m in messages]

    yield Line(valkey_queue(client, name), take, valkey_queue(dead, name))
    await client.aclose()
    await dead.aclose()


async def test_each_sent_report_reaches_a_worker_once(line: Line):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for report_id in ids:
        await line.queue.send(report_id)
    assert sorted(await line.take(len(ids))) == sorted(ids)


async def test_a_report_sent_twice_wakes_a_worker_twice(line: Line):
    report_id = str(uuid.uuid4())
    await line.queue.send(report_id)
    await line.queue.send(report_id)  # a resend by the sweeper: the row decides what runs
    assert await line.take(2) == [report_id, report_id]


async def test_a_broker_that_does_not_answer_raises_unavailable(line: Line):
    with pytest.raises(UnavailableError):
        await line.unreachable.send(str(uuid.uuid4()))


# --- Valkey only: the message as the worker and the backlog read it ----------------------------------
async def test_the_message_is_the_report_actors_and_counts_in_the_backlog(servers: EmbeddedServers):
    name = f"contract{uuid.uuid4().hex[:8]}"
    client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    try:
        sent_at = time.time()
        await valkey_queue(client, name).send("r-1")
        backlog = await ValkeyQueueBacklog(client, name).measure()
        assert backlog.queued == 1
        assert 0 <= backlog.oldest_age_s < 5
        [message] = await asyncio.to_thread(take_from_valkey, servers.valkey_url, name, 1)
    finally:
        await client.aclose()
    assert (message.queue_name, message.actor_name, message.args, message.kwargs) == (
        name, GENERATE_REPORT_ACTOR, ("r-1",), {},
    )  # fmt: skip
    assert abs(message.message_timestamp / 1000 - sent_at) < 5
