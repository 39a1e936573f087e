"""The ASGI side of a live stream: writes a subscriber's frames until it ends or the client leaves.

Litestar's `Stream` was measured first: per open stream it keeps an anyio task group, a task and an
async generator besides the request's own task. Here one small task waits for the client's
disconnect and the request's task writes the frames, which the hub encoded once for every stream.
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


async def _until_disconnect(receive: Receive, subscriber: Subscriber) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    subscriber.close()


class _EventStreamBody(ASGIResponse):
    __slots__ = ("streams", "subscriber")

    _should_set_content_length = False

    def __init__(self, streams: PortfolioStreams, subscriber: Subscriber, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.streams = streams
        self.subscriber = subscriber

    async def send_body(self, send: Send, receive: Receive) -> None:
        subscriber = self.subscriber
        watcher = asyncio.ensure_future(_until_disconnect(receive, subscriber))
        try:
            await send({"type": "http.response.body", "body": self.streams.retry, "more_body": True})
            while (frame := await subscriber.next()) is not None:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            if not watcher.done():  # ended by the server (a drain), not by the client leaving
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            self.streams.close(subscriber)


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
