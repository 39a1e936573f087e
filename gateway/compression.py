"""Compression of every other response: large, compressible, not yet encoded ones, per Accept-Encoding.

Litestar's CompressionMiddleware was not used: it compresses bodies that already carry a
Content-Encoding (the memoised market-data and portfolio bodies would be compressed twice), matches
Accept-Encoding by substring with no q-values, and sets no Vary on bodies it leaves alone.
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Any, cast

from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.content_coding import Coding, Compressor, compressor, negotiate, weaken

# Per-request compression favours speed: no zstd here (few browsers), lighter levels than documents.
CODINGS: tuple[Coding, ...] = ("br", "gzip", "identity")
_SKIP_STATUS = frozenset({204, 304})
_VARY = b"Accept-Encoding"

# ASGI messages are plain dicts at run time; the TypedDict unions only get in the way here.
Message = dict[str, Any]
RawSend = Callable[[Message], Awaitable[None]]


@functools.lru_cache(maxsize=512)
def _coding_for(accept_encoding: bytes | None) -> Coding:
    return negotiate(accept_encoding.decode("latin-1") if accept_encoding is not None else None, CODINGS)


def _compressible(content_type: bytes) -> bool:
    ct = content_type.lower()
    if ct.startswith(b"text/event-stream"):
        return False  # streamed events must not wait in a compressor's buffer
    return ct.startswith(b"text/") or any(kind in ct for kind in (b"json", b"javascript", b"xml", b"yaml"))


class CompressionMiddleware:
    """Compresses responses of at least `minimum_size` bytes; adds `Vary: Accept-Encoding` to them."""

    def __init__(self, app: ASGIApp, *, minimum_size: int) -> None:
        self.app = app
        self.minimum_size = minimum_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = cast(dict[str, Any], scope)
        if raw["type"] != "http" or raw["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        accept = next((v for k, v in raw["headers"] if k == b"accept-encoding"), None)
        responder = _Responder(cast(RawSend, send), _coding_for(accept), self.minimum_size)
        await self.app(scope, receive, cast(Send, responder.send))


class _Responder:
    """Holds back the response start until the first body chunk shows whether to compress."""

    __slots__ = ("_coding", "_forward", "_minimum", "_send", "_start", "_stream")

    def __init__(self, send: RawSend, coding: Coding, minimum_size: int) -> None:
        self._send = send
        self._coding = coding
        self._minimum = minimum_size
        self._start: Message | None = None
        self._stream: Compressor | None = None
        self._forward: RawSend | None = None

    async def send(self, message: Message) -> None:
        if self._forward is not None:
            await self._forward(message)
        elif message["type"] == "http.response.start":
            if self._eligible(message):
                self._start = message
            else:
                self._forward = self._send
                await self._send(message)
        elif message["type"] == "http.response.body" and self._start is not None:
            await self._first_body(self._start, message)
        else:
            await self._send(message)

    def _eligible(self, start: Message) -> bool:
        if start["status"] in _SKIP_STATUS or start["status"] < 200:
            return False
        content_type = b""
        for name, value in start.get("headers", ()):
            if name == b"content-encoding":
                return False
            if name == b"content-length" and int(value) < self._minimum:
                return False
            if name == b"content-type":
                content_type = value
        return _compressible(content_type)

    async def _first_body(self, start: Message, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if not more and len(body) < self._minimum:
            self._forward = self._send
            await self._send(start)
            await self._send(message)
            return
        headers = _with_vary(start.get("headers", ()))
        if self._coding == "identity":
            start["headers"] = headers
            self._forward = self._send
            await self._send(start)
            await self._send(message)
            return
        stream = compressor(self._coding)
        start["headers"] = _encoded_headers(headers, self._coding)
        if not more:
            data = stream.compress(body) + stream.flush()
            start["headers"].append((b"content-length", str(len(data)).encode()))
            self._forward = self._send
            await self._send(start)
            await self._send({"type": "http.response.body", "body": data, "more_body": False})
            return
        self._stream = stream
        self._forward = self._compressed
        await self._send(start)
        await self._compressed(message)

    async def _compressed(self, message: Message) -> None:
        if message["type"] != "http.response.body" or self._stream is None:
            await self._send(message)
            return
        more = message.get("more_body", False)
        data = self._stream.compress(message.get("body", b""))
        if not more:
            data += self._stream.flush()
        await self._send({"type": "http.response.body", "body": data, "more_body": more})


def _with_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    vary = [v for k, v in headers if k == b"vary"]
    if any(b"accept-encoding" in v.lower() or v.strip() == b"*" for v in vary):
        return list(headers)
    return [*(h for h in headers if h[0] != b"vary"), (b"vary", b", ".join([*vary, _VARY]))]


def _encoded_headers(headers: list[tuple[bytes, bytes]], coding: Coding) -> list[tuple[bytes, bytes]]:
    # The identity Content-Length no longer holds; a strong ETag of the identity bytes would be wrong
    # for the coded ones, so it becomes weak.
    out = [(k, v) for k, v in headers if k not in (b"content-length", b"etag")]
    out += [(b"etag", weaken(v.decode("latin-1")).encode("latin-1")) for k, v in headers if k == b"etag"]
    out.append((b"content-encoding", coding.encode()))
    return out
