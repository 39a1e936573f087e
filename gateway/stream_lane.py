"""The live stream's lane: `GET /api/user/{id}/portfolio/stream` served before Litestar's routing.

An open stream lives for hours, so what it holds is paid per connection: Litestar's Request, its
handler's and its response's objects, and a task waiting for the client's disconnect came to about
as much as Granian's own connection. Here a stream holds its subscriber and the request's own task,
and hears the client leave from a callback on its pending `receive()`, not from a task of its own
(Granian's `send` to a gone client does not fail, so writes cannot tell).

It opens the stream with the same use case and the app's own authentication and authorisation
(`Authenticator.cached`, then `principal`, and the guard's `refusal` with the route's scope, `read`),
and answers the cap's 429 and a dependency's 503 itself, as problem details. Anything else (a
missing or refused credential, an unknown user, a malformed `Last-Event-ID`, a cross-origin request)
falls through to the regular route, which answers it. The request-context layer around both lanes
adds the same headers, metrics and access line.
"""

from typing import Any

from litestar.types import ASGIApp, Receive, Send

from domain.errors import DomainError, TooManyStreamsError, UnavailableError
from domain.models.audit import user_target
from gateway.auth import Authenticator, Principal
from gateway.dependencies import ServicesHandle
from gateway.event_stream import STREAM_HEADERS, serve_stream
from gateway.problems import send_problem, send_unavailable
from gateway.security import lane_principal, note_operator_read

PREFIX = "/api/user/"
SUFFIX = "/portfolio/stream"
TEMPLATE = "/api/user/{user_id}/portfolio/stream"  # the metrics' route label, as Litestar names this route
SCOPE = "read"  # as the regular route declares (gateway/routes/portfolio_stream.py)
MAX_EVENT_ID = 64  # the regular route's `Last-Event-ID` bound: a longer one falls through to its 400
START_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    *((name.lower().encode(), value.encode()) for name, value in STREAM_HEADERS.items()),
)


class PortfolioStreamLane:
    """Outer ASGI layer for `GET /api/user/{id}/portfolio/stream`."""

    def __init__(self, app: ASGIApp, handle: ServicesHandle, *, authenticator: Authenticator) -> None:
        self.app = app
        self.handle = handle
        self.authenticator = authenticator

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(PREFIX) and path.endswith(SUFFIX) and scope["method"] == "GET":
            user = path[len(PREFIX) : -len(SUFFIX)]
            if user.isdigit() and user[0] != "0" and len(user) < 19:
                await self._stream(int(user), scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _stream(self, user_id: int, scope: Any, receive: Receive, send: Send) -> None:
        authorization = last_event_id = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"last-event-id":
                last_event_id = value.decode("latin-1")
        services = self.handle.services
        if services is None or (last_event_id is not None and len(last_event_id) > MAX_EVENT_ID):
            await self.app(scope, receive, send)
            return
        retry_after = [(b"retry-after", str(services.settings.retry_after_s).encode())]
        try:
            principal = await self._authorized(authorization, user_id)
            subscriber = None if principal is None else await services.streams.open(user_id, last_event_id)
        except TooManyStreamsError as e:
            scope["path_template"] = TEMPLATE
            await send_problem(scope, send, 429, e.detail, retry_after)
            return
        except UnavailableError as e:  # the database is down, or this instance drains
            await send_unavailable(scope, send, e, services.settings.retry_after_s, TEMPLATE)
            return
        except DomainError:
            subscriber = None  # an unknown user...: the regular route answers with its problem details
        if principal is None or subscriber is None:
            await self.app(scope, receive, send)  # also the 401/403 problem details of a refused credential
            return
        scope["path_template"] = TEMPLATE
        note_operator_read(services, principal, user_target(user_id), scope)
        await serve_stream(services.streams, subscriber, receive, send, list(START_HEADERS))

    async def _authorized(self, authorization: str | None, user_id: int) -> Principal | None:
        return await lane_principal(self.authenticator, authorization, SCOPE, user_id)
