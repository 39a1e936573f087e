"""Sessions: revoke every token issued to a user until now (log out everywhere)."""

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State

from gateway.api_key_schemas import SessionsRevokedOut
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.problems import request_id_of
from gateway.routes.api_keys import MANAGE_NOTES
from gateway.routes.portfolios import UserId
from gateway.security import MANAGE, SCOPE, principal_of


class SessionController(Controller):
    path = "/api/user/{user_id:int}/sessions"
    tags = ["api keys"]

    @post(
        "/revoke",
        operation_id="revokeSessions",
        opt={SCOPE: MANAGE},
        status_code=200,
        summary="Refuse every token issued to the user until now, on every process, once this answers",
        description="API keys stay valid: revoke them one by one. A token issued in the same second as the"
        " revocation is refused too (a token's `iat` has whole seconds).",
        responses=problems(400, 401, 403, 404, 429, 503, notes=MANAGE_NOTES),
    )
    async def revoke(self, request: Request[Any, Any, Any], state: State, user_id: UserId) -> SessionsRevokedOut:
        watermark = await services_of(state).revocations.revoke_sessions(
            user_id, actor=principal_of(request).actor, request_id=request_id_of(request)
        )
        return SessionsRevokedOut(user_id=user_id, tokens_not_before=datetime.fromtimestamp(watermark, UTC))
