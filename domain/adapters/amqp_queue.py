"""The Dramatiq broker on RabbitMQ: the workers' `RabbitmqBroker` (pika, blocking), and the web's publish on the
event loop (aiormq): one connection and one channel with publisher confirms per process, no thread hop.

The web publishes what `RabbitmqBroker.enqueue` publishes: the encoded `Message` to the default exchange with the
queue's name as routing key, persistent (delivery mode 2), after declaring the queue and its delay and dead-letter
queues with the broker's own arguments (a queue declared twice with other arguments is PRECONDITION_FAILED).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiormq
from dramatiq import Message
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import dq_name, xq_name
from pamqp.commands import Basic

from domain.errors import UnavailableError
from domain.models.fleet import Backlog
from domain.ports.fleet import QueueBacklog
from domain.ports.reports import ReportQueue, ReportStatistics

# What a call can fail with: the driver's errors, a socket's, the deadline, and the RuntimeError aiormq raises
# when a channel is asked of a connection that closed under us.
_FAILURES = (aiormq.exceptions.AMQPError, OSError, TimeoutError, RuntimeError)


def build_amqp_broker(url: str, *, socket_timeout_s: float) -> RabbitmqBroker:
    """The workers' broker: confirmed publishes (retries, the clock's jobs), one connection attempt, timeouts.

    pika waits without limit by default on a broker that accepts connections but does not answer.
    """
    broker = RabbitmqBroker(url=url, confirm_delivery=True)
    parameters: Any = broker.parameters  # one URL: pika's URLParameters; several (";"-separated): a list of them
    every = parameters if isinstance(parameters, list) else [parameters]
    for each in every:
        each.socket_timeout = socket_timeout_s
        each.stack_timeout = socket_timeout_s * 2
        each.blocked_connection_timeout = socket_timeout_s * 6  # a broker out of memory or disk blocks publishers
        each.connection_attempts = 1
    return broker


def queue_arguments(queue_name: str) -> dict[str, Any]:
    """`RabbitmqBroker._build_queue_arguments` without a priority: dead letters go to `<queue>.XQ`."""
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": xq_name(queue_name)}


class AmqpChannel:
    """This process's one AMQP connection and channel, opened on first use and again after a failure.

    Every call runs under `deadline_s` (connect, declare, publish and its confirm): a broker that is down
    or stalled costs a caller that long at most, then `UnavailableError`.
    """

    def __init__(self, url: str, *, deadline_s: float) -> None:
        self._url = url
        self._deadline_s = deadline_s
        self._connection: aiormq.abc.AbstractConnection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._declared: set[str] = set()
        self._opening = asyncio.Lock()

    async def publish(self, queue_name: str, message: Message[Any]) -> None:
        """Publish as `RabbitmqBroker.enqueue` does; returns once RabbitMQ has confirmed the message."""
        properties = Basic.Properties(delivery_mode=2, message_id=message.message_id)  # aiormq needs an id
        async with self._call("the report queue") as channel:
            await self._declare(channel, queue_name)
            confirm = await channel.basic_publish(
                message.encode(), exchange="", routing_key=queue_name, properties=properties, mandatory=True
            )
        if not isinstance(confirm, Basic.Ack):
            raise UnavailableError(f"the report queue did not take the message ({type(confirm).__name__})")

    async def depth(self, queue_name: str) -> int:
        """Messages ready for a consumer (passive declare); not those a worker holds unacknowledged."""
        async with self._call("the report queue") as channel:
            await self._declare(channel, queue_name)
            declared = await channel.queue_declare(queue_name, passive=True)
        return int(declared.message_count or 0)

    async def check(self) -> None:
        """Readiness: the channel is open, or opens within the deadline."""
        async with self._call("the broker"):
            pass

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(*_FAILURES):
                await asyncio.wait_for(connection.close(), self._deadline_s)

    @contextlib.asynccontextmanager
    async def _call(self, what: str) -> AsyncIterator[aiormq.abc.AbstractChannel]:
        try:
            async with asyncio.timeout(self._deadline_s):
                yield await self._open()
        except _FAILURES as e:
            await self._drop()
            raise UnavailableError(f"{what} is not answering ({type(e).__name__})") from e

    async def _open(self) -> aiormq.abc.AbstractChannel:
        channel = self._channel
        if channel is not None and not channel.is_closed:
            return channel
        async with self._opening:  # one connect for the callers that arrive while it is down
            if self._channel is None or self._channel.is_closed:
                await self._drop()
                self._connection = await aiormq.connect(self._url)
                self._channel = await self._connection.channel(publisher_confirms=True)
            return self._channel

    async def _declare(self, channel: aiormq.abc.AbstractChannel, queue_name: str) -> None:
        if queue_name in self._declared:
            return
        arguments = queue_arguments(queue_name)
        await channel.queue_declare(queue_name, durable=True, arguments=arguments)
        await channel.queue_declare(dq_name(queue_name), durable=True, arguments=arguments)
        await channel.queue_declare(xq_name(queue_name), durable=True, arguments={"x-message-ttl": DEAD_MESSAGE_TTL})
        self._declared.add(queue_name)

    async def _drop(self) -> None:
        """Forget a connection that failed; the next call opens a new one (and declares again)."""
        connection, self._connection, self._channel = self._connection, None, None
        self._declared.clear()
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(*_FAILURES):
                await asyncio.wait_for(connection.close(), 0.1)


class AmqpProbe:
    """Readiness of the broker: the process's channel is open, or opens within its deadline."""

    name = "broker"

    def __init__(self, channel: AmqpChannel) -> None:
        self._channel = channel

    async def check(self) -> None:
        await self._channel.check()


class AmqpReportQueue(ReportQueue):
    """Sends `(id,)` to an actor by queue and actor name over the process's channel (the web never imports actors)."""

    def __init__(self, channel: AmqpChannel, *, queue_name: str, actor_name: str) -> None:
        self._channel = channel
        self._queue_name = queue_name
        self._actor_name = actor_name

    async def send(self, report_id: str) -> None:
        message: Message[None] = Message(
            queue_name=self._queue_name, actor_name=self._actor_name, args=(report_id,), kwargs={}, options={}
        )
        await self._channel.publish(self._queue_name, message)

    async def send_many(self, report_ids: Sequence[str]) -> None:
        """Published together on the channel: their confirms come back in one wait, not one round trip each."""
        outcomes = await asyncio.gather(*(self.send(report_id) for report_id in report_ids), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome


class AmqpQueueBacklog(QueueBacklog):
    """The depth from RabbitMQ (a passive declare); the oldest age from the report rows.

    RabbitMQ tells how many messages wait but not since when (only a consumer sees a message's timestamp), so the
    age is the oldest report still `queued` in the database: what a user waits for, resends included.
    """

    def __init__(self, channel: AmqpChannel, queue_name: str, reports: ReportStatistics) -> None:
        self._channel = channel
        self._queue_name = queue_name
        self._reports = reports

    async def measure(self) -> Backlog:
        queued = await self._channel.depth(self._queue_name)
        return Backlog(queued=queued, oldest_age_s=await self._reports.oldest_queued_age_s() if queued else 0.0)
