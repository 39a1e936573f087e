"""The Dramatiq broker on Valkey: a wake-up channel for the worker, built with explicit timeouts.

Processes enqueue by name (`ValkeyReportQueue`), so the web never imports the actor module.
"""

import time
import uuid
from collections.abc import Sequence
from importlib import resources

import valkey
import valkey.asyncio as avalkey
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from valkey.exceptions import NoScriptError

from domain.errors import UnavailableError
from domain.ports.reports import ReportQueue

DEAD_MESSAGE_TTL_MS = 7 * 24 * 3600 * 1000  # RedisBroker's default; only its maintenance reads it
LUA_UNPACK_SIZE = 3999  # only `fetch` reads it; half of Lua's default stack, as RedisBroker computes


def build_broker(url: str, *, socket_timeout_s: float, heartbeat_timeout_ms: int = 15_000) -> RedisBroker:
    """A Redis-protocol broker on a valkey-py client (the sync client has no timeouts unless given).

    `heartbeat_timeout` and a high `maintenance_chance` make a killed worker's messages come back in
    seconds rather than minutes.
    """
    client = valkey.Valkey.from_url(url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s)
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client, heartbeat_timeout=heartbeat_timeout_ms, maintenance_chance=100_000
    )


class ValkeyReportQueue(ReportQueue):
    """Sends `(report_id,)` to the report actor by queue and actor name, on the event loop.

    Dramatiq's `RedisBroker.enqueue` is synchronous: from the event loop it needs a thread per send,
    and the hand-offs of the interpreter lock between that thread and a busy loop cost milliseconds.
    This adapter runs the broker's own `dispatch.lua` (read from the installed dramatiq package, so
    the format cannot drift) with the same arguments `RedisBroker.enqueue` passes, over the shared
    asyncio client: one round trip, no thread. It never triggers the broker's queue maintenance;
    the consumers do that on their fetches.
    """

    def __init__(
        self,
        client: avalkey.Valkey,
        *,
        queue_name: str,
        actor_name: str,
        heartbeat_timeout_ms: int,
        namespace: str = "dramatiq",
    ) -> None:
        source = resources.files("dramatiq.brokers").joinpath("redis", "dispatch.lua").read_text()
        self._client = client
        self._dispatch = client.register_script(source)
        self._queue_name = queue_name
        self._actor_name = actor_name
        self._namespace = namespace
        self._sender_id = str(uuid.uuid4())
        self._heartbeat_timeout_ms = heartbeat_timeout_ms

    async def send(self, report_id: str) -> None:
        try:
            await self._dispatch(keys=[self._namespace], args=self._args(report_id))
        except (valkey.ValkeyError, OSError) as e:
            raise UnavailableError(f"the report queue is not answering ({type(e).__name__})") from e

    async def send_many(self, report_ids: Sequence[str]) -> None:
        """The same scripts in one pipeline: one round trip (a server that lost the script gets `send`s)."""
        if len(report_ids) < 2:
            for report_id in report_ids:
                await self.send(report_id)
            return
        pipe = self._client.pipeline(transaction=False)
        for report_id in report_ids:
            pipe.evalsha(self._dispatch.sha, 1, self._namespace, *self._args(report_id))  # type: ignore[arg-type]  # bytes and ints are sent as the script call sends them
        try:
            results = await pipe.execute(raise_on_error=False)
        except (valkey.ValkeyError, OSError) as e:
            raise UnavailableError(f"the report queue is not answering ({type(e).__name__})") from e
        for report_id, result in zip(report_ids, results, strict=True):
            if isinstance(result, NoScriptError):
                await self.send(report_id)  # loads the script again
            elif isinstance(result, Exception):
                raise UnavailableError(f"the report queue refused a message ({type(result).__name__})")

    def _args(self, report_id: str) -> list[str | int | bytes]:
        redis_id = str(uuid.uuid4())  # unique per enqueue, as RedisBroker.enqueue makes it
        message: Message[None] = Message(
            queue_name=self._queue_name,
            actor_name=self._actor_name,
            args=(report_id,),
            kwargs={},
            options={"redis_message_id": redis_id},
        )
        now_ms = int(time.time() * 1000)
        return [
            *("enqueue", now_ms, self._queue_name, self._sender_id, self._heartbeat_timeout_ms),
            *(DEAD_MESSAGE_TTL_MS, 0, LUA_UNPACK_SIZE, redis_id, message.encode()),
        ]
