"""The portfolio read's fast lane: a cache hit answered before Litestar's routing.

A hit needs no I/O: holdings from the in-process cache, valued at the current snapshot, encoded
once per (user, holdings, quote version) and compressed once per coding. Anything else (a miss,
an odd path, a header this lane does not handle) falls through to the regular handler, which is
the documented route and the one mechanism for errors; the lane only ever answers 200.
"""

from typing import Any

from litestar import Litestar
from litestar.types import ASGIApp, Receive, Send

from domain.models import Holdings
from domain.services.valuation import value_holdings
from gateway.content_coding import Coding, compress, negotiate
from gateway.responses import json_encoder

PREFIX = "/api/user/"
SUFFIX = "/portfolio"
CODINGS: tuple[Coding, ...] = ("br", "zstd", "gzip", "identity")
_JSON = (b"content-type", b"application/json")
_VARY = (b"vary", b"Accept-Encoding")
_HIT = (b"x-cache", b"hit")


class _Body:
    __slots__ = ("codings", "holdings", "version")

    def __init__(self, holdings: Holdings, version: int, identity: bytes) -> None:
        self.holdings = holdings
        self.version = version
        self.codings: dict[Coding, bytes] = {"identity": identity}


class PortfolioFastLane:
    """Outer ASGI layer for `GET /api/user/{id}/portfolio` cache hits."""

    def __init__(self, app: ASGIApp, litestar: Litestar, *, min_size: int, max_entries: int) -> None:
        self.app = app
        self.litestar = litestar
        self.min_size = min_size
        self.max_entries = max_entries
        self.bodies: dict[int, _Body] = {}

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(PREFIX) and path.endswith(SUFFIX) and scope["method"] == "GET":
            user = path[len(PREFIX) : -len(SUFFIX)]
            if user.isdigit() and user[0] != "0" and len(user) < 19:
                answered = await self._answer(int(user), scope, send)
                if answered:
                    return
        await self.app(scope, receive, send)

    async def _answer(self, user_id: int, scope: Any, send: Any) -> bool:
        services = self.litestar.state.get("services")
        if services is None:
            return False
        holdings = services.portfolios.cached(user_id)
        if holdings is None:
            return False
        accept = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value.decode("latin-1")
        body, coding = self._body(user_id, holdings, services.portfolios.snapshot(), accept)
        headers = [_JSON, _HIT, _VARY, (b"content-length", str(len(body)).encode())]
        if coding != "identity":
            headers.append((b"content-encoding", coding.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    def _body(self, user_id: int, holdings: Holdings, snapshot: Any, accept: str | None) -> tuple[bytes, Coding]:
        entry = self.bodies.get(user_id)
        if entry is None or entry.holdings is not holdings or entry.version != snapshot.version:
            entry = _Body(holdings, snapshot.version, json_encoder.encode(value_holdings(holdings, snapshot)))
            if len(self.bodies) >= self.max_entries:
                del self.bodies[next(iter(self.bodies))]
            self.bodies[user_id] = entry
        identity = entry.codings["identity"]
        coding = negotiate(accept, CODINGS) if accept and len(identity) >= self.min_size else "identity"
        body = entry.codings.get(coding)
        if body is None:
            body = entry.codings[coding] = compress(identity, coding)
        return body, coding
