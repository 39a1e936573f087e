"""One contract for the report queue, run against the in-memory twin and the real Dramatiq queues on Valkey
and on RabbitMQ.

The real side is read back as a worker reads it: a Dramatiq `RedisBroker` or `RabbitmqBroker` consumer on the
same server. Each test sends to a queue of its own, so the session's workers (on `reports`) never take its messages.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiormq
import pytest
import valkey.asyncio as avalkey
from dramatiq import Broker, Message
from pamqp.commands import Basic

from cli.embedded import EmbeddedServers
from config.queues import GENERATE_REPORT_ACTOR
from domain.adapters.amqp_queue import AmqpChannel, AmqpQueueBacklog, AmqpReportQueue, build_amqp_broker
from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.reports import InMemoryReportQueue, InMemoryReportRepository, InMemoryReportStatistics
from domain.adapters.queue_backlog import ValkeyQueueBacklog
from domain.adapters.reports_queue import ValkeyReportQueue, build_broker
from domain.errors import UnavailableError
from domain.models.fleet import Backlog
from domain.ports.reports import ReportQueue
from tests.rabbitmq import RabbitMQServer

pytestmark = pytest.mark.integration


@dataclass
class Line:
    """A queue, what a worker would take off it, and a queue whose broker does not answer."""

    queue: ReportQueue
    take: Callable[[int], Awaitable[list[str]]]  # up to n report ids, waiting a little for them
    unreachable: ReportQueue


def take_from_valkey(url: str, queue: str, count: int) -> list[Message[object]]:
    """What a worker would fetch: up to `count` messages (acknowledged), and at most one extra poll."""
    return take_with(build_broker(url, socket_timeout_s=1), queue, count)


def take_from_rabbitmq(url: str, queue: str, count: int) -> list[Message[object]]:
    """The same with the worker's RabbitMQ broker (its declaration must agree with the sender's)."""
    return take_with(build_amqp_broker(url, socket_timeout_s=1), queue, count)


def take_with(broker: Broker, queue: str, count: int) -> list[Message[object]]:
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


def amqp_queue(channel: AmqpChannel, queue: str) -> AmqpReportQueue:
    return AmqpReportQueue(channel, queue_name=queue, actor_name=GENERATE_REPORT_ACTOR)


@pytest.fixture(params=["memory", "valkey", "rabbitmq"])
async def line(request: pytest.FixtureRequest, servers: EmbeddedServers) -> AsyncIterator[Line]:
    if request.param == "rabbitmq":
        async for each in rabbitmq_line(request.getfixturevalue("rabbitmq")):
            yield each
        return
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


async def rabbitmq_line(rabbitmq: RabbitMQServer) -> AsyncIterator[Line]:
    name = f"contract{uuid.uuid4().hex[:8]}"
    channel = AmqpChannel(rabbitmq.url, deadline_s=2)
    dead = AmqpChannel("amqp://guest:guest@127.0.0.1:1/", deadline_s=0.5)

    async def take(count: int) -> list[str]:
        messages = await asyncio.to_thread(take_from_rabbitmq, rabbitmq.url, name, count)
        return [str(m.args[0]) for m in messages]

    yield Line(amqp_queue(channel, name), take, amqp_queue(dead, name))
    await channel.close()
    await dead.close()


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
    with pytest.raises(UnavailableError):
        await line.unreachable.send_many([str(uuid.uuid4()) for _ in range(3)])


async def test_reports_sent_together_each_reach_a_worker_once(line: Line):
    ids = [str(uuid.uuid4()) for _ in range(20)]
    await line.queue.send_many(ids)
    await line.queue.send_many(ids[:1])
    assert sorted(await line.take(len(ids) + 1)) == sorted([*ids, ids[0]])


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


# --- RabbitMQ only: what the web publishes is what Dramatiq's own broker publishes --------------------
async def get_raw(url: str, queue: str) -> tuple[Basic.Properties, Message[object]]:
    connection = await aiormq.connect(url)
    try:
        channel = await connection.channel()
        got = await channel.basic_get(queue, no_ack=True)
        assert got.body, f"nothing on {queue}"
        return got.header.properties, Message.decode(got.body)
    finally:
        await connection.close()


async def test_the_web_publishes_what_dramatiqs_rabbitmq_broker_publishes(rabbitmq: RabbitMQServer):
    name = f"contract{uuid.uuid4().hex[:8]}"
    broker = build_amqp_broker(rabbitmq.url, socket_timeout_s=1)
    own: Message[None] = Message(
        queue_name=name, actor_name=GENERATE_REPORT_ACTOR, args=("r-1",), kwargs={}, options={}
    )
    channel = AmqpChannel(rabbitmq.url, deadline_s=2)
    try:
        await asyncio.to_thread(broker.enqueue, own)  # the worker's broker declares first: the web must agree
        await amqp_queue(channel, name).send("r-1")
        theirs_properties, theirs = await get_raw(rabbitmq.url, name)
        ours_properties, ours = await get_raw(rabbitmq.url, name)
    finally:
        await channel.close()
        broker.close()
    assert (ours.queue_name, ours.actor_name, ours.args, ours.kwargs, ours.options) == (
        theirs.queue_name, theirs.actor_name, theirs.args, theirs.kwargs, theirs.options,
    )  # fmt: skip
    assert ours_properties.delivery_mode == theirs_properties.delivery_mode == 2  # persistent
    assert ours_properties.priority is theirs_properties.priority is None
    assert ours_properties.message_id == ours.message_id  # the one property Dramatiq does not set


async def test_a_rabbitmq_that_accepts_but_never_answers_is_unavailable_within_the_deadline():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the connection, never answers the AMQP handshake

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    channel = AmqpChannel(f"amqp://guest:guest@127.0.0.1:{port}/", deadline_s=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(UnavailableError):
            await amqp_queue(channel, "contract-silent").send("r-1")
        assert time.monotonic() - started < 2  # the deadline, not a hang
    finally:
        await channel.close()
        server.close()


async def test_the_rabbitmq_backlog_counts_waiting_messages_and_ages_them_by_the_rows(rabbitmq: RabbitMQServer):
    name = f"contract{uuid.uuid4().hex[:8]}"
    clock = FixedClock()
    rows = InMemoryReportRepository({7: ("seven@example.com", "Seven")}, clock)
    await rows.create(7, None, 60)
    clock.advance(7)
    channel = AmqpChannel(rabbitmq.url, deadline_s=2)
    backlog = AmqpQueueBacklog(channel, name, InMemoryReportStatistics(rows))
    try:
        assert await backlog.measure() == Backlog(queued=0, oldest_age_s=0.0)  # nothing waits on the broker
        for report_id in ("r-1", "r-2"):
            await amqp_queue(channel, name).send(report_id)
        assert await backlog.measure() == Backlog(queued=2, oldest_age_s=7.0)
        await asyncio.to_thread(take_from_rabbitmq, rabbitmq.url, name, 2)
        assert (await backlog.measure()).queued == 0
    finally:
        await channel.close()
    down = AmqpChannel("amqp://guest:guest@127.0.0.1:1/", deadline_s=0.5)
    with pytest.raises(UnavailableError):
        await AmqpQueueBacklog(down, name, InMemoryReportStatistics(rows)).measure()
