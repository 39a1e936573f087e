"""Request context at the outermost layer: request id, timing headers, metrics, the access log line."""

import itertools
import logging
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Send

from domain import timing
from gateway.access_log import AccessLog
from gateway.metrics import RequestTelemetry, content_encoding, server_timing
from gateway.problems import UNEXPECTED_DETAIL, send_problem
from gateway.security_headers import SecurityHeaders

# ASGI scopes are plain dicts at run time; the TypedDict union only gets in the way here.
Scope = dict[str, Any]

log = logging.getLogger("folio.errors")

_SANE_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


def _client_request_id(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"x-request-id":
            return value if _SANE_ID.match(value) else None
    return None


class RequestIds:
    """Unique ids without a syscall per request: 16 random hex digits per process, then a counter."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def next(self) -> bytes:
        return f"{self._prefix}{next(self._counter):016x}".encode()


class RequestContextMiddleware:
    """Wraps the whole app (404s included): `X-Request-ID`, `X-Process-Time`, `Server-Timing`, metrics,
    the slow-request warning and one access line."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: AccessLog | None,
        security_headers: SecurityHeaders | None = None,
        telemetry: RequestTelemetry | None = None,
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.security_headers = security_headers
        self.telemetry = telemetry
        self.ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # type: ignore[arg-type]
            return
        start = time.perf_counter()
        rid = _client_request_id(scope["headers"]) or self.ids.next()
        scope["state"]["request_id"] = rid.decode()
        status = 500
        started = False
        sent = 0
        encoding = "identity"
        spent, token = timing.begin()  # the adapters add their database and cache time to it

        async def send_with_context(message: Message) -> None:
            nonlocal status, started, sent, encoding
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = list(message.get("headers", ()))
                encoding = content_encoding(headers)
                elapsed = time.perf_counter() - start
                headers.append((b"x-request-id", rid))
                headers.append((b"x-process-time", f"{elapsed:.6f}".encode()))
                scope["state"]["server_timing"] = breakdown = server_timing(spent, elapsed)  # as sent, for the console
                headers.append((b"server-timing", breakdown))
                if self.security_headers is not None:
                    self.security_headers.extend(scope, headers)
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)  # type: ignore[arg-type]
        except Exception:
            # The last net for errors no handler mapped (a layer in front of Litestar's, the fast lane):
            # the client gets a bare 500 problem, the log keeps the detail under the request id.
            if started:
                raise
            log.exception("unhandled error", extra={"request_id": rid.decode()})
            await send_problem(scope, send_with_context, 500, UNEXPECTED_DETAIL)
        finally:
            timing.end(token)
            seconds = time.perf_counter() - start
            if self.telemetry is not None:
                self.telemetry.finished(scope, status, seconds, spent, sent, encoding, rid)
            if self.access_log is not None:
                self.access_log.request(scope["method"], scope["path"], status, round(seconds * 1000, 3), rid.decode())
