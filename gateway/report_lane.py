"""The report request's lane: `POST /api/generate-report?user_id=N` answered before Litestar's routing.

The request's own work is one row and one message, shared with the other requests of the same loop turn (group
commit, domain/batching.py); Litestar's routing, request object, parameter parsing and response objects cost
as much again. The lane calls the same use case
(`ReportDesk.request`) and answers the route's 202 with the same body and headers (`accepted`), only once
the report's row is durable, as the route does. It takes the form every client uses, the user in the query
and no body, with an optional valid `Idempotency-Key`; anything else (a JSON body, a query it does not read
exactly, a malformed key) falls through to the route, the one mechanism for validation and its problem details.
Authentication and authorisation are the app's (`lane_principal` with the route's scope, `reports`, the
owner, and no read-only operator); a refused caller falls through too, and the route answers 401/403. A
dependency down is a 503 here; a domain error (an unknown user) falls through before anything was written,
and the route answers it.
"""

import re
from typing import Any

from litestar.types import ASGIApp, Receive, Send

from domain.errors import DomainError, UnavailableError
from gateway.auth import Authenticator
from gateway.dependencies import ServicesHandle
from gateway.problems import send_unavailable
from gateway.report_schemas import accepted
from gateway.responses import json_encoder
from gateway.routes.portfolios import MAX_USER_ID
from gateway.security import lane_principal

PATH = "/api/generate-report"
SCOPE = "reports"  # as the route declares (gateway/routes/reports.py)
_QUERY = re.compile(rb"user_id=([1-9][0-9]{0,18})")
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # the route's `Idempotency-Key` constraints
_JSON = (b"content-type", b"application/json")
_REPLAYED = (b"idempotent-replayed", b"true")


class ReportRequestLane:
    """Outer ASGI layer for the report request in its usual form; anything else passes through."""

    def __init__(self, app: ASGIApp, handle: ServicesHandle, *, authenticator: Authenticator) -> None:
        self.app = app
        self.handle = handle
        self.authenticator = authenticator

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH:
            found = _QUERY.fullmatch(scope["query_string"])
            if found is not None and (owner := int(found[1])) <= MAX_USER_ID and await self._answer(owner, scope, send):
                return
        await self.app(scope, receive, send)

    async def _answer(self, owner: int, scope: Any, send: Any) -> bool:
        authorization = key = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"idempotency-key":
                key = value.decode("latin-1")
            elif (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding":
                return False  # a body: the route reads and validates it
        services = self.handle.services
        if services is None or (key is not None and _KEY.fullmatch(key) is None):
            return False
        retry_after_s = services.settings.retry_after_s
        try:
            principal = await lane_principal(self.authenticator, authorization, SCOPE, owner, changes=True)
            if principal is None:
                return False  # the route answers with the 401/403 problem details
            result = await services.reports.request(owner, key)
        except UnavailableError as e:
            await send_unavailable(scope, send, e, retry_after_s, PATH)
            return True
        except DomainError:
            return False  # nothing was written; the route tries again and answers with problem details
        view = accepted(result.report, services.reports.estimated_completion(result.report))
        body = json_encoder.encode(view)
        headers = [_JSON, (b"content-length", str(len(body)).encode()), (b"location", view.status_url.encode())]
        if not result.created:
            headers.append(_REPLAYED)
        scope["path_template"] = PATH
        await send({"type": "http.response.start", "status": 202, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True
