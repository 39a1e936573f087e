"""One open stream's mailbox: a single slot holding the latest frame, so a slow reader costs one frame.

Every event carries the whole portfolio, so an event the reader has not taken yet is superseded by
the next one rather than queued behind it: memory per stream is bounded by one shared frame.
"""

import asyncio
import time

HEARTBEAT = b": heartbeat\n\n"


class Subscriber:
    """What one stream reads next: `offer` replaces any untaken frame; `next` waits for one."""

    __slots__ = ("_pending", "_waiter", "closed", "dropped", "gone", "pending_since", "task", "user_id")

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self._pending: bytes | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.gone = False  # the client left
        self.dropped = 0  # frames superseded before the reader took them
        self.pending_since = 0.0  # monotonic time the untaken frame has been waiting since
        self.task: asyncio.Task[object] | None = None  # the task serving the stream, ended if it stalls

    def offer(self, frame: bytes) -> None:
        """Hand the reader `frame` (the latest state wins); a heartbeat never displaces an event."""
        if self.closed:
            return
        pending = self._pending
        if pending is None:
            self.pending_since = time.monotonic()
        elif frame is HEARTBEAT:
            return
        elif pending is not HEARTBEAT:
            self.dropped += 1
        self._pending = frame
        self._wake()

    def close(self, final: bytes | None = None) -> None:
        """End the stream: the reader gets `final` (instead of anything untaken), then the end."""
        if self.closed:
            return
        self.closed = True
        self._pending = final
        self._wake()

    def disconnected(self, _: object = None) -> None:
        """The client left (a callback on the server's pending `receive()`): end the stream."""
        self.gone = True
        self.close()

    def stalled(self, now: float, limit_s: float) -> bool:
        """True when a frame has waited longer than `limit_s` for the reader (its writes are stuck)."""
        return self._pending is not None and self._pending is not HEARTBEAT and now - self.pending_since > limit_s

    async def next(self) -> bytes | None:
        """The next frame to write, or None once the stream has ended."""
        while self._pending is None:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        frame, self._pending = self._pending, None
        return frame

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
