"""The ASGI side of a live stream: writes a subscriber's frames until it ends or the client leaves.

Litestar's `Stream` was measured first: per open stream it keeps an anyio task group, a task and an
async generator besides the request's own task. Here the request's task writes the frames, which the
hub encoded once for every stream, and the client's disconnect is heard from a callback on the pending
`receive()` (Granian's `send` to a gone client does not fail, so the writes cannot tell). Both the
stream's lane (gateway/stream_lane.py) and the regular route serve a stream with `serve_stream`.
"""

import asyncio
from typing import Any

from litestar import Request, Response
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Send

from domain.services.streams.hub import PortfolioStreams
from domain.services.streams.subscriber import Subscriber

EVENT_STREAM = "text/event-stream"
# No caching, and no buffering by a proxy (nginx honours X-Accel-Buffering): each event goes out at once.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def serve_stream(
    streams: PortfolioStreams,
    subscriber: Subscriber,
    receive: Receive,
    send: Send,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer 200 with `headers` (unless None: the start is sent), then the `retry:` hint and the subscriber's
    frames until either side ends the stream."""
    watcher = None
    try:
        if headers is not None:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": streams.retry, "more_body": True})
        watcher = await _watch_disconnect(receive, subscriber)
        while (frame := await subscriber.next()) is not None:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        if not subscriber.gone:  # ended by the server (a drain), not by the client leaving
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        streams.close(subscriber)
        if watcher is not None:
            watcher.cancel()


async def _watch_disconnect(receive: Receive, subscriber: Subscriber) -> "asyncio.Future[Any] | None":
    """Have the subscriber hear the client's disconnect. Granian's `receive()` is a future: a callback on it
    costs no task; another server's coroutine gets a task (returned, to be cancelled at the end)."""
    while (message := await receive())["type"] == "http.request" and message.get("more_body"):
        pass  # the request's body, if a client sent one: the message after it is the disconnect
    if message["type"] == "http.disconnect":
        subscriber.disconnected()
        return None
    pending: Any = receive()
    if hasattr(pending, "add_done_callback"):
        pending.add_done_callback(subscriber.disconnected)
        return None
    task: asyncio.Future[Any] = asyncio.ensure_future(pending)
    task.add_done_callback(subscriber.disconnected)
    return task


class _EventStreamBody(ASGIResponse):
    __slots__ = ("streams", "subscriber")

    _should_set_content_length = False

    def __init__(self, streams: PortfolioStreams, subscriber: Subscriber, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.streams = streams
        self.subscriber = subscriber

    async def send_body(self, send: Send, receive: Receive) -> None:
        await serve_stream(self.streams, self.subscriber, receive, send)  # Litestar has sent the start


class EventStream(Response[bytes]):
    """A handler's answer: the subscriber's frames as `text/event-stream`, preceded by the `retry:` hint."""

    def __init__(self, streams: PortfolioStreams, subscriber: Subscriber) -> None:
        super().__init__(b"", media_type=EVENT_STREAM, headers=STREAM_HEADERS)
        self.streams = streams
        self.subscriber = subscriber

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Any = None,
        encoded_headers: Any = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: Any = None,
        status_code: int | None = None,
        type_encoders: Any = None,
    ) -> ASGIResponse:
        return _EventStreamBody(
            self.streams,
            self.subscriber,
            encoded_headers=encoded_headers,
            headers={**(headers or {}), **self.headers},
            is_head_response=is_head_response,
            media_type=EVENT_STREAM,
            status_code=200,
        )
