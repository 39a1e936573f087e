"""The operator console at `/console`: its page and files, sign-in and sign-out, the live events, and the
actions. Outside the API contract (excluded from the OpenAPI document): a browser's own protocol,
authenticated by the session cookie and a CSRF header rather than a bearer token.
"""

import time
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from domain.errors import ForbiddenError
from domain.models.audit import Actor, AuditQuery
from gateway.auth import AuthenticationError, Authenticator
from gateway.console.assets import ASSET_CACHE, PAGE_CACHE, assets, page
from gateway.console.feed import ConsoleFeed
from gateway.console.sessions import COOKIE, CSRF_HEADER, ConsoleSession, SessionSigner
from gateway.dependencies import services_of
from gateway.event_stream import EVENT_STREAM, STREAM_HEADERS
from gateway.routes.audit import since_time
from gateway.user_schemas import AuditPageOut, audit_page_out

READS = frozenset(("GET", "HEAD"))
OPEN = "console_open"  # opt: reachable without a session (the page, its files, sign-in)
ACTION = "console_action"  # opt: changes something, so needs the role `admin`
Connection = ASGIConnection[Any, Any, Any, Any]


class SignIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class SessionOut(msgspec.Struct, frozen=True):
    operator: str
    role: str
    csrf_token: str
    expires_at: float


def session_of(connection: Connection) -> ConsoleSession:
    """The caller's console session; 401 when there is none (or it expired, or was revoked)."""
    state = connection.app.state
    authenticator: Authenticator = state.authenticator
    signer: SessionSigner = state.console_signer
    session = signer.read(connection.cookies.get(COOKIE), authenticator.not_before)
    if session is None:
        raise NotAuthorizedException(detail="sign in to the console with an operator token")
    return session


async def console_guard(connection: Connection, handler: BaseRouteHandler) -> None:
    """A session for everything but the open routes; the CSRF header on every change; `admin` to act."""
    if handler.opt.get(OPEN):
        return
    session = session_of(connection)
    signer: SessionSigner = connection.app.state.console_signer
    if connection.scope.get("method") not in READS and not signer.csrf_ok(session, connection.headers.get(CSRF_HEADER)):
        raise ForbiddenError("the CSRF token is missing or wrong: reload the console and try again")
    if handler.opt.get(ACTION) and session.role != "admin":
        raise ForbiddenError("this operator's role is 'read': it sees everything and may not act")


def session_cookie(signer: SessionSigner, value: str, max_age: int) -> Cookie:
    return Cookie(key=COOKIE, value=value, path="/console", max_age=max_age, httponly=True,
                  secure=signer.secure, samesite="strict")  # fmt: skip


def _session_out(signer: SessionSigner, session: ConsoleSession) -> SessionOut:
    return SessionOut(session.operator, session.role, signer.csrf(session), session.expires_at)


def actor_of(request: Request[Any, Any, Any], session: ConsoleSession) -> Actor:
    return Actor(name=session.actor, request_id=request.scope.get("state", {}).get("request_id"))


class ConsoleController(Controller):
    path = "/console"
    include_in_schema = False
    guards = [console_guard]

    @get("/", opt={OPEN: True}, media_type="text/html")
    async def index(self) -> Response[bytes]:
        return Response(page(), media_type="text/html; charset=utf-8", headers={"Cache-Control": PAGE_CACHE})

    @get("/assets/{digest:str}/{name:str}", opt={OPEN: True})
    async def asset(self, digest: FromPath[str], name: FromPath[str]) -> Response[bytes]:
        found = assets().get(name)
        if found is None or found.digest != digest:
            raise NotFoundException(detail="no such console file (reload the console)")
        return Response(found.body, media_type=found.media_type, headers={"Cache-Control": ASSET_CACHE})

    @post("/session", opt={OPEN: True}, status_code=201)
    async def sign_in(
        self, request: Request[Any, Any, Any], state: State, data: JSONBody[SignIn]
    ) -> Response[SessionOut]:
        authenticator: Authenticator = state.authenticator
        try:
            principal = await authenticator.principal(f"Bearer {data.token.strip()}")
        except AuthenticationError as e:
            raise NotAuthorizedException(detail=f"sign-in refused: {e.detail}") from None
        if not principal.is_operator:
            raise NotAuthorizedException(detail="sign-in refused: this is not an operator token")
        signer: SessionSigner = state.console_signer
        value, session = signer.issue(principal)
        max_age = max(int(session.expires_at - time.time()), 1)
        out = _session_out(signer, session)
        return Response(out, cookies=[session_cookie(signer, value, max_age)], headers={"Cache-Control": "no-store"})

    @get("/session")
    async def current(self, request: Request[Any, Any, Any], state: State) -> Response[SessionOut]:
        return Response(_session_out(state.console_signer, session_of(request)), headers={"Cache-Control": "no-store"})

    @delete("/session", status_code=204)
    async def sign_out(self, state: State) -> Response[None]:
        return Response(None, status_code=204, cookies=[session_cookie(state.console_signer, "", 0)])

    @get("/events", media_type=EVENT_STREAM)
    async def events(self, request: Request[Any, Any, Any], state: State) -> Stream:
        feed: ConsoleFeed = state.console_feed
        return Stream(feed.stream(session_of(request).expires_at), media_type=EVENT_STREAM, headers=STREAM_HEADERS)

    @get("/audit")
    async def audit(
        self,
        state: State,
        actor: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        target: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
    ) -> AuditPageOut:
        query = AuditQuery(actor=actor or None, action=action or None, target=target or None, since=since_time(since))
        return audit_page_out(await services_of(state).audit.page(query, limit=100))

    @post("/reports/{task_id:str}/requeue", opt={ACTION: True})
    async def requeue(self, request: Request[Any, Any, Any], state: State, task_id: FromPath[str]) -> dict[str, str]:
        report = await services_of(state).reports.requeue(task_id, caller=actor_of(request, session_of(request)))
        state.console_feed.refresh()
        return {"id": report.id, "status": report.status}

    @post("/webhooks/{user_id:int}/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver", opt={ACTION: True})
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_id: FromPath[int],
        webhook_id: FromPath[str],
        delivery_id: FromPath[str],
    ) -> dict[str, str]:
        caller = actor_of(request, session_of(request))
        delivery = await services_of(state).webhooks.redeliver(user_id, webhook_id, delivery_id, caller=caller)
        state.console_feed.refresh()
        return {"id": delivery.id, "status": delivery.status}
