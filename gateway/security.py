"""Who may call what: bearer authentication on every `/api` route and per-object authorisation.

Authentication is Litestar's `AbstractAuthenticationMiddleware` around `Authenticator.principal`
(401). Authorisation is one app-wide guard, `authorize` (403): operator routes (`opt["operator_only"]`
or under `/api/ops/`) need an operator token; a route with a `user_id` path parameter needs that
user's credential or an operator's; and an API key needs the scope the route declares in
`opt["scope"]` (`read`, `trade`, `reports`; `manage` for key and session management, which no key
holds, and a route that declares none is closed to keys). Handlers that learn an object's owner only
after loading it (a report by task id) call `authorize_owner`. The portfolio fast lane reuses
`Authenticator.principal` and `refusal`, and on any refusal leaves the answer to this path.

An operator's read of a user's data is an audit event (`user.read`), noted here and in the fast lane
with `note_operator_read`: the entry is queued, and appended off the request's path. A user reading
its own data is not one.
"""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from domain.errors import ForbiddenError
from domain.models.audit import Actor, user_target
from gateway.auth import AuthenticationError, Authenticator, Principal, authorization_header

OPEN_PATHS = ("/health", "/docs", "/console")  # the console authenticates by its own cookie (gateway/console)
SCOPE = "scope"  # the key of a route handler's `opt` that names the scope it needs
MANAGE = "manage"  # keys and sessions: a scope no API key holds
READS = frozenset(("GET", "HEAD"))
OPS_PREFIX = "/api/ops/"
API_PREFIX = "/api/"

Connection = ASGIConnection[Any, Any, Any, Any]


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets `request.user` to the caller's `Principal`; 401 problem details otherwise."""

    def __init__(self, app: Any, *, authenticator: Authenticator, exclude: list[str]) -> None:
        super().__init__(app, exclude=exclude)
        self.authenticator = authenticator

    async def authenticate_request(self, connection: Connection) -> AuthenticationResult:
        principal = await self.authenticator.principal(authorization_header(connection.scope["headers"]))
        return AuthenticationResult(user=principal, auth=None)


def bearer_auth(authenticator: Authenticator) -> DefineMiddleware:
    """The app's authentication middleware: everything but the health and docs routes."""
    exclude = [f"^{path}(/|$)" for path in OPEN_PATHS]
    return DefineMiddleware(BearerAuthMiddleware, authenticator=authenticator, exclude=exclude)


def principal_of(connection: Connection) -> Principal:
    """The authenticated caller; 401 if this route was somehow reached without one."""
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise AuthenticationError("this route needs an Authorization: Bearer token", invalid_token=False)
    return user


def require_operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise ForbiddenError("this route is for operators")


def refusal(principal: Principal, scope: str | None, user_id: int | None = None) -> str | None:
    """Why `principal` may not call a route that needs `scope` on `user_id`'s data; None when it may."""
    if user_id is not None and not principal.may_access_user(user_id):
        return f"this token may not access user {user_id}'s data"
    if principal.has_scope(scope):
        return None
    if scope is None or scope == MANAGE:
        return "an API key may not call this route: use a token"
    return f"this API key lacks the scope '{scope}' that this route needs"


async def lane_principal(
    authenticator: Authenticator, authorization: str | None, scope: str, user_id: int | None, *, changes: bool = False
) -> Principal | None:
    """For a lane ahead of the framework: the caller, if its credential is valid and may act on `user_id` (None
    for a route about no user) with `scope`, and, for a request that `changes` something, is not a read-only
    operator (as `authorize` has it); None otherwise (the regular route then answers with its problem details)."""
    principal = authenticator.cached(authorization)
    if principal is None:
        try:
            principal = await authenticator.principal(authorization)
        except AuthenticationError:
            return None
    if changes and principal.read_only:
        return None
    return principal if refusal(principal, scope, user_id) is None else None


def actor_name(principal: Principal) -> str:
    """The principal as the audit log names it: `user:42`, `operator:ada`, `apikey:<id>`."""
    return principal.actor


def actor_of(connection: Connection) -> Actor:
    """Who asks, and under which request id, for the audit entries of the change it asks for."""
    request_id = connection.scope.get("state", {}).get("request_id")
    return Actor(name=actor_name(principal_of(connection)), request_id=request_id)


def note_operator_read(services: Any, principal: Principal, target: str, scope: Any) -> None:
    """Queue the audit entry of an operator's read of `target` (a user's data); nothing for anyone else."""
    reads = getattr(services, "reads", None)
    if reads is None or not principal.is_operator:
        return
    request_id = scope.get("state", {}).get("request_id")
    reads.record(Actor(name=actor_name(principal), request_id=request_id), target, f"GET {scope['path']}")


def authorize_owner(caller: Connection, owner_user_id: int) -> None:
    """Raise ForbiddenError (403) unless the caller is `owner_user_id` or an operator (whose read is noted)."""
    principal = principal_of(caller)
    _authorize_owner(caller, principal, owner_user_id)


def _authorize_owner(connection: Connection, principal: Principal, owner_user_id: int) -> None:
    if not principal.may_access_user(owner_user_id):
        raise ForbiddenError(f"this token may not access user {owner_user_id}'s data")
    if principal.is_operator and connection.scope.get("method") in READS:
        note_operator_read(
            connection.app.state.get("services"), principal, user_target(owner_user_id), connection.scope
        )


async def authorize(connection: Connection, handler: BaseRouteHandler) -> None:
    """The app-wide guard: the one place that says which principal reaches which route.

    Guards are `async` though they only compute: Litestar runs a synchronous guard in a worker
    thread (`ensure_async_callable`), a thread hop and two interpreter-lock hand-offs per request.
    """
    path = connection.scope["path"]
    if not path.startswith(API_PREFIX) or connection.scope.get("method") == "OPTIONS":
        return  # open routes, and preflights (the middleware does not authenticate them either)
    principal = principal_of(connection)
    if principal.read_only and connection.scope.get("method") not in READS:
        raise ForbiddenError("this operator token is read-only (role 'read'): it may not change anything")
    if handler.opt.get("operator_only") or path.startswith(OPS_PREFIX):
        require_operator(principal)
    user_id = connection.path_params.get("user_id")
    if isinstance(user_id, int):
        _authorize_owner(connection, principal, user_id)
    elif handler.opt.get("reads_users") and principal.is_operator:
        note_operator_read(connection.app.state.get("services"), principal, "users", connection.scope)
    refused = refusal(principal, handler.opt.get(SCOPE))
    if refused is not None:
        raise ForbiddenError(refused)


async def operator_only(connection: Connection, handler: BaseRouteHandler) -> None:
    """The guard on every operator route (each is also marked `opt={"operator_only": True}`)."""
    require_operator(principal_of(connection))
