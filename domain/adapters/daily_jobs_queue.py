"""The market day's jobs as Dramatiq messages, sent by actor name (the clock never imports the actors)."""

import asyncio
from collections.abc import Mapping
from datetime import date

import valkey
from dramatiq import Broker, Message
from dramatiq.errors import BrokerConnectionError

from domain.errors import UnavailableError
from domain.ports.market_day import DailyJobQueue


class DramatiqDailyJobQueue(DailyJobQueue):
    """Sends `(day,)` (ISO date) to the job's actor. The clock sends a few messages a day, so the broker's own
    synchronous `enqueue` runs in a thread rather than the hand-rolled dispatch the report queue uses."""

    def __init__(self, broker: Broker, *, queue_name: str, actors: Mapping[str, str]) -> None:
        self._broker = broker
        self._queue_name = queue_name
        self._actors = dict(actors)

    async def send(self, job: str, day: date) -> None:
        message: Message[None] = Message(
            queue_name=self._queue_name, actor_name=self._actors[job], args=(day.isoformat(),), kwargs={}, options={}
        )
        try:
            await asyncio.to_thread(self._broker.enqueue, message)
        except (valkey.ValkeyError, BrokerConnectionError, OSError) as e:  # Valkey's, or RabbitMQ's after pika's
            raise UnavailableError(f"the job queue is not answering ({type(e).__name__})") from e
