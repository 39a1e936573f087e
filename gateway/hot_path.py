"""The portfolio read's fast lane: `GET /api/user/{id}/portfolio` answered before Litestar's routing.

The lane calls the same use case as the regular handler (`PortfolioService.holdings`), values
the holdings at the current snapshot, encodes once per (user, holdings, quote version) and
compresses once per coding; an in-process hit needs no I/O at all. A user's body at an earlier quote
version is brought up to date as the live streams do it (`Valued.advance`): only the lines whose
quotes moved since are valued and encoded again, and the lines are joined again only when one moved.
It answers 200, or a 503 when a dependency is down (trying again would wait out the database's
deadline twice); an error of any other kind (unknown user, ...) falls through to the regular
handler, which is the documented route and the one mechanism for the other problem details.
Authentication and authorisation come first and are the app's own (`Authenticator.cached`, then
`principal`, and the guard's `refusal` with the route's scope, `read`): a remembered credential
costs two dict lookups; a missing, invalid, revoked or foreign one, or a key without `read`, falls
through too, and the regular path answers 401/403. An operator's read it answers is noted for the audit log as the
regular path notes it (`note_operator_read`).
"""

from typing import Any

from litestar.types import ASGIApp, Receive, Send

from domain.errors import DomainError, UnavailableError
from domain.models.audit import user_target
from domain.models.holdings import Holdings
from domain.models.quotes import QuoteSnapshot
from domain.services.streams.frames import Lines, QuoteMoves, Valued
from domain.services.streams.wire import JsonPortfolioWire
from gateway.auth import Authenticator, Principal
from gateway.content_coding import Coding, compress, negotiate
from gateway.dependencies import ServicesHandle
from gateway.portfolio_schemas import PortfolioViewWire
from gateway.problems import send_unavailable
from gateway.security import lane_principal, note_operator_read

PREFIX = "/api/user/"
SUFFIX = "/portfolio"
TEMPLATE = "/api/user/{user_id}/portfolio"  # the metrics' route label, as Litestar names this route
SCOPE = "read"  # as the regular route declares (gateway/routes/portfolios.py)
CODINGS: tuple[Coding, ...] = ("br", "zstd", "gzip", "identity")
_JSON = (b"content-type", b"application/json")
_VARY = (b"vary", b"Accept-Encoding")
_HIT = (b"x-cache", b"hit")
_MISS = (b"x-cache", b"miss")


class _Body(Valued):
    """A user's body at one quote version, per content coding. Once joined from its lines, it keeps them for the
    next version as views into the body itself (the same bytes are not held twice)."""

    __slots__ = ("codings", "lines")
    codings: dict[Coding, bytes]
    lines: Lines | None

    def _unmoved(self, snapshot: QuoteSnapshot, wire: JsonPortfolioWire) -> Lines:
        return self.lines or self._lines(snapshot, wire)

    def _emit(self, data: bytes, lines: Lines | None) -> None:
        self.codings = {"identity": data}
        if lines is None:
            self.lines = None
            return
        # Found by the fields' names, each of which occurs once, before its array (a name inside a string
        # would have its quotes escaped); whether joined anew or kept, they now point into this body only.
        sums, holdings, cash = lines
        view = memoryview(data)
        at = data.index(b'"holdings":') + len(b'"holdings":')
        cash_at = data.rindex(b'"cash":') + len(b'"cash":')
        self.lines = Lines(sums, view[at : at + len(holdings)], view[cash_at : cash_at + len(cash)])


class PortfolioFastLane:
    """Outer ASGI layer for `GET /api/user/{id}/portfolio` cache hits."""

    def __init__(
        self, app: ASGIApp, handle: ServicesHandle, *, authenticator: Authenticator, min_size: int, max_entries: int
    ) -> None:
        self.app = app
        self.handle = handle
        self.authenticator = authenticator
        self.min_size = min_size
        self.max_entries = max_entries
        self.bodies: dict[int, _Body] = {}
        self.moves = QuoteMoves()
        self.wire = PortfolioViewWire()

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(PREFIX) and path.endswith(SUFFIX) and scope["method"] == "GET":
            user = path[len(PREFIX) : -len(SUFFIX)]
            if user.isdigit() and user[0] != "0" and len(user) < 19 and not _asks_for_csv(scope):
                answered = await self._answer(int(user), scope, send)
                if answered:
                    return
        await self.app(scope, receive, send)

    async def _answer(self, user_id: int, scope: Any, send: Any) -> bool:
        accept = authorization = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        services = self.handle.services
        if services is None:
            return False
        try:
            principal = await self._authorized(authorization, user_id)
        except UnavailableError as e:  # a first sight of a key or a user, and the database is down
            await send_unavailable(scope, send, e, services.settings.retry_after_s, TEMPLATE)
            return True
        if principal is None:
            return False  # the regular path answers with the 401/403 problem details
        portfolios = services.portfolios
        holdings = portfolios.cached(user_id)
        hit = True
        if holdings is None:
            try:
                holdings, hit = await portfolios.holdings(user_id)
            except UnavailableError as e:
                await send_unavailable(scope, send, e, services.settings.retry_after_s, TEMPLATE)
                return True
            except DomainError:
                return False  # the regular handler tries again and answers with problem details
        body, coding = self._body(user_id, holdings, services.portfolios.snapshot(), accept)
        headers = [_JSON, _HIT if hit else _MISS, _VARY, (b"content-length", str(len(body)).encode())]
        if coding != "identity":
            headers.append((b"content-encoding", coding.encode()))
        scope["path_template"] = TEMPLATE
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if principal.is_operator:
            note_operator_read(services, principal, user_target(user_id), scope)
        return True

    async def _authorized(self, authorization: str | None, user_id: int) -> Principal | None:
        return await lane_principal(self.authenticator, authorization, SCOPE, user_id)

    def _body(
        self, user_id: int, holdings: Holdings, snapshot: QuoteSnapshot, accept: str | None
    ) -> tuple[bytes, Coding]:
        # The wire view is built here, once per (user, holdings, quote version), never per request.
        entry = self.bodies.get(user_id)
        if entry is not None and entry.holdings is holdings:
            if entry.version != snapshot.version:
                self.moves.see(snapshot)
                moved = self.moves.since(entry.version)
                if moved is None:
                    entry = None
                else:
                    entry.advance(snapshot, moved, self.wire)
        else:
            entry = None
        if entry is None:
            self.moves.see(snapshot)
            entry = _Body(holdings, "", snapshot, self.wire)
            if user_id not in self.bodies and len(self.bodies) >= self.max_entries:
                del self.bodies[next(iter(self.bodies))]
            self.bodies[user_id] = entry
        identity = entry.codings["identity"]
        coding = negotiate(accept, CODINGS) if accept and len(identity) >= self.min_size else "identity"
        body = entry.codings.get(coding)
        if body is None:
            body = entry.codings[coding] = compress(identity, coding)
        return body, coding


def _asks_for_csv(scope: Any) -> bool:
    # The holdings' CSV file: the regular handler negotiates it.
    return any(name == b"accept" and b"text/csv" in value for name, value in scope["headers"])
