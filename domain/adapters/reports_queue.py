"""The Dramatiq broker on Valkey: a wake-up channel for the worker, built with explicit timeouts.

The web process enqueues by name (`DramatiqReportQueue`), so it never imports the actor module.
"""

import asyncio

import dramatiq
import valkey
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from domain.errors import UnavailableError
from domain.ports import ReportQueue


def build_broker(url: str, *, socket_timeout_s: float, heartbeat_timeout_ms: int = 15_000) -> RedisBroker:
    """A Redis-protocol broker on a valkey-py client (the sync client has no timeouts unless given).

    `heartbeat_timeout` and a high `maintenance_chance` make a killed worker's messages come back in
    seconds rather than minutes.
    """
    client = valkey.Valkey.from_url(url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s)
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client, heartbeat_timeout=heartbeat_timeout_ms, maintenance_chance=100_000
    )


class DramatiqReportQueue(ReportQueue):
    """Sends `(report_id,)` to the report actor by queue and actor name."""

    def __init__(self, broker: dramatiq.Broker, *, queue_name: str, actor_name: str) -> None:
        self._broker = broker
        self._queue_name = queue_name
        self._actor_name = actor_name

    async def send(self, report_id: str) -> None:
        message: Message[None] = Message(
            queue_name=self._queue_name, actor_name=self._actor_name, args=(report_id,), kwargs={}, options={}
        )
        # The broker's client is synchronous: a thread keeps a slow Valkey off the event loop.
        try:
            await asyncio.to_thread(self._broker.enqueue, message)
        except (valkey.ValkeyError, dramatiq.DramatiqError, OSError) as e:
            raise UnavailableError(f"the report queue is not answering ({type(e).__name__})") from e
