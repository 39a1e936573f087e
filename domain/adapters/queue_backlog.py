"""The report queue's backlog, read from the Dramatiq broker's own layout on Valkey.

`dispatch.lua` keeps a queue as a list of message ids (`<namespace>:<queue>`, RPUSH on enqueue,
LPOP on fetch) beside a hash of their bodies (`<queue>.msgs`). The list's length is what waits for
a worker; its head is the oldest, and its body carries `message_timestamp` (ms). Messages a worker
has already prefetched, and retries waiting out their backoff (`<queue>.DQ`), are not counted.
"""

import time
from collections.abc import Callable

import msgspec
import valkey.asyncio as avalkey

from domain.adapters.valkey import FAILURES
from domain.errors import UnavailableError
from domain.models.fleet import Backlog
from domain.ports.fleet import QueueBacklog

_FAILURES = FAILURES


class _Stamp(msgspec.Struct):
    message_timestamp: int  # ms since the epoch, set by Dramatiq when the message was built


_STAMP = msgspec.json.Decoder(_Stamp)


class ValkeyQueueBacklog(QueueBacklog):
    def __init__(
        self,
        client: avalkey.Valkey,
        queue_name: str,
        *,
        namespace: str = "dramatiq",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._queue = f"{namespace}:{queue_name}"
        self._clock = clock

    async def measure(self) -> Backlog:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.llen(self._queue)
                pipe.lindex(self._queue, 0)
                queued, head = await pipe.execute()
            body = None if head is None else await self._body(head)
        except _FAILURES as e:
            raise UnavailableError(f"the report queue is not answering ({type(e).__name__})") from e
        return Backlog(queued=int(queued), oldest_age_s=self._age(body))

    async def _body(self, message_id: bytes) -> bytes | None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hget(f"{self._queue}.msgs", message_id.decode())
            replies: list[bytes | None] = await pipe.execute()
        return replies[0]

    def _age(self, body: bytes | None) -> float:
        if body is None:
            return 0.0
        try:
            stamp = _STAMP.decode(body).message_timestamp
        except msgspec.DecodeError:
            return 0.0  # not a Dramatiq message we can read: count it, but do not invent an age
        return max(self._clock() - stamp / 1000, 0.0)
