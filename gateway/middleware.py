"""Request context at the outermost layer: request id, timing header and the access log line."""

import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Send

# ASGI scopes are plain dicts at run time; the TypedDict union only gets in the way here.
Scope = dict[str, Any]

access_log = logging.getLogger("folio.access")

_SANE_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


def _client_request_id(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"x-request-id":
            return value if _SANE_ID.match(value) else None
    return None


class RequestContextMiddleware:
    """Wraps the whole app (404s included): `X-Request-ID`, `X-Process-Time`, one access line."""

    def __init__(self, app: ASGIApp, *, log_requests: bool) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # type: ignore[arg-type]
            return
        start = time.perf_counter()
        rid = _client_request_id(scope["headers"]) or uuid.uuid4().hex.encode()
        scope["state"]["request_id"] = rid.decode()
        status = 500

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", rid))
                headers.append((b"x-process-time", f"{time.perf_counter() - start:.6f}".encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)  # type: ignore[arg-type]
        finally:
            if self.log_requests:
                _log_access(scope, status, start, rid)


def _log_access(scope: Scope, status: int, start: float, rid: bytes) -> None:
    extra: dict[str, Any] = {
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
        "request_id": rid.decode(),
    }
    access_log.info("request", extra=extra)
