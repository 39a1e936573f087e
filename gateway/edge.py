"""The edge checks in front of every lane (the fast lanes and Litestar): hosts and CORS.

gateway/stack.py puts them around the lanes, so a request meets the same checks whichever lane
answers it. CORS is Litestar's (`cors_config`), so a cross-origin request (one with an `Origin`
header) skips the fast lanes for Litestar's. A check that is not configured is not in the chain at
all: by default CORS is closed (no CORS headers) and every host is served, at no cost per request.
"""

from typing import Any, Literal

from litestar.config.cors import CORSConfig
from litestar.middleware.allowed_hosts import AllowedHostsMiddleware
from litestar.types import ASGIApp, Method, Receive, Send

from config.settings import Settings
from gateway.problems import send_problem

CORS_METHODS: list[Method | Literal["*"]] = ["GET", "POST", "PUT", "OPTIONS"]
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "X-Request-ID"]
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Retry-After",
    "X-Cache",
    "X-Process-Time",
    "X-Request-ID",
    "Idempotent-Replayed",
    "Server-Timing",
]


def csv_setting(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def cors_config(settings: Settings) -> CORSConfig | None:
    origins = csv_setting(settings.cors_allow_origins)
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        allow_methods=CORS_METHODS,
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
        allow_credentials=False,  # bearer tokens, not cookies
    )


class TrustedHostsMiddleware(AllowedHostsMiddleware):
    """Litestar's allowed-hosts matching, answering a foreign Host with problem details (400)."""

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if self.allowed_hosts_regex is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        name = host if host.startswith("[") else host.split(":", 1)[0]
        if name and (self.allowed_hosts_regex.fullmatch(host) or self.allowed_hosts_regex.fullmatch(name)):
            await self.app(scope, receive, send)
            return
        await send_problem(scope, send, 400, "the Host header names a host this API does not serve")


class CrossOriginToLitestar:
    """Requests with an `Origin` header go to Litestar, whose CORS handling the lanes lack."""

    def __init__(self, fast: ASGIApp, litestar_lane: ASGIApp) -> None:
        self.fast = fast
        self.litestar_lane = litestar_lane

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(name == b"origin" for name, _ in scope["headers"]):
            await self.litestar_lane(scope, receive, send)
        else:
            await self.fast(scope, receive, send)
