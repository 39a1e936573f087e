"""The documents' lane: `GET /api/market-data` and `GET /api/static-data/instruments` answered before Litestar.

Both documents are bytes kept per quote version and per content coding (gateway/documents.py), so a request
is a lookup; through Litestar's routing, request object, kwargs and response objects it cost three times the
lookup itself. The lane answers from the same `SnapshotDocument` as the regular handlers, with the same
headers: the negotiated coding, its strong ETag, `Cache-Control`, `Vary`, and an empty 304 when
If-None-Match names the current tag. Authentication and authorisation are the app's (`lane_principal` with
the routes' scope, `read`); a missing, invalid or revoked credential, a key without `read`, a query string,
or anything but GET falls through to the regular route, which answers with its problem details. A
dependency down while a credential is first seen is a 503 here, as in the portfolio's lane.
"""

from dataclasses import dataclass
from typing import Any

from litestar.types import ASGIApp, Receive, Send

from domain.errors import UnavailableError
from gateway.auth import Authenticator
from gateway.content_coding import negotiate, none_match
from gateway.dependencies import ServicesHandle
from gateway.documents import SnapshotDocument
from gateway.problems import send_unavailable
from gateway.security import lane_principal

SCOPE = "read"  # as both regular routes declare
_JSON = (b"content-type", b"application/json")
_VARY = (b"vary", b"Accept-Encoding")


@dataclass(frozen=True, slots=True)
class DocumentRoute:
    """One document's route: its `SnapshotDocument` (the regular handler's), and its `Cache-Control`."""

    document: SnapshotDocument
    cache_control: str


class DocumentLane:
    """Outer ASGI layer for the snapshot documents' GETs; anything else passes through."""

    def __init__(
        self, app: ASGIApp, handle: ServicesHandle, *, authenticator: Authenticator, routes: dict[str, DocumentRoute]
    ) -> None:
        self.app = app
        self.handle = handle
        self.authenticator = authenticator
        self.routes = {path: (route, route.cache_control.encode()) for path, route in routes.items()}

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            found = self.routes.get(scope["path"])
            if found is not None and await self._answer(scope, send, *found):
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Any, send: Any, route: DocumentRoute, cache_control: bytes) -> bool:
        accept = authorization = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
        services = self.handle.services
        if services is None:
            return False
        try:
            principal = await lane_principal(self.authenticator, authorization, SCOPE, None)
        except UnavailableError as e:  # a first sight of a key, and the database is down
            await send_unavailable(scope, send, e, services.settings.retry_after_s, scope["path"])
            return True
        if principal is None:
            return False  # the regular path answers with the 401/403 problem details
        coding = negotiate(accept)
        doc, body = await route.document.get(services.quotes.current(), coding)
        headers = [(b"etag", doc.etags[coding].encode()), (b"cache-control", cache_control), _VARY]
        scope["path_template"] = scope["path"]  # both routes' paths are their templates
        if none_match(if_none_match, doc.opaque):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        headers += (_JSON, (b"content-length", str(len(body)).encode()))
        if coding != "identity":
            headers.append((b"content-encoding", coding.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True
