"""API keys: a user (or an operator) creates, lists and revokes a user's keys for server-to-server clients."""

import re
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.exceptions import ValidationException
from litestar.params import JSONBody, PathParameter

from gateway.api_key_schemas import ApiKeyCreatedOut, ApiKeyIn, ApiKeyListOut, api_key_created_out, api_key_list_out
from gateway.dependencies import services_of
from gateway.openapi_contract import UUID_PATTERN
from gateway.openapi_schemas import problems
from gateway.problems import request_id_of
from gateway.routes.portfolios import USER_NOTES, UserId
from gateway.security import MANAGE, SCOPE, principal_of

_UUID = re.compile(UUID_PATTERN)
KeyId = Annotated[
    str,
    PathParameter(
        description="The key's `id`, as its creation or the listing gave it",
        schema_extra={"format": "uuid", "pattern": f"^{UUID_PATTERN}$"},
    ),
]
MANAGE_NOTES = {
    **USER_NOTES,
    403: "A user token may manage only its own user's keys; an API key may not manage keys",
}
CREATE_NOTES = {
    **MANAGE_NOTES,
    409: "The user already holds as many keys as allowed (API_KEYS_PER_USER): revoke one first",
    422: "`expires_at` is not in the future; `errors` names it",
}
REVOKE_NOTES = {**MANAGE_NOTES, 404: "No such user, or no such key of theirs that is not revoked yet"}


def _key_id(value: str) -> str:
    if not _UUID.fullmatch(value):
        raise ValidationException(
            "key_id is wrong",
            extra=[{"key": "key_id", "source": "path", "message": "must be a UUID, as the key's `id`"}],
        )
    return value.lower()


class ApiKeyController(Controller):
    path = "/api/user/{user_id:int}/api-keys"
    tags = ["api keys"]

    @post(
        "/",
        operation_id="createApiKey",
        opt={SCOPE: MANAGE},
        summary="A new API key: its full text is in this answer and nowhere else, ever",
        responses=problems(400, 401, 403, 404, 409, 413, 422, 429, 503, notes=CREATE_NOTES),
    )
    async def create(
        self, request: Request[Any, Any, Any], state: State, user_id: UserId, data: JSONBody[ApiKeyIn]
    ) -> Response[ApiKeyCreatedOut]:
        issued = await services_of(state).api_keys.create(
            user_id,
            name=data.name,
            scopes=tuple(data.scopes),
            expires_at=data.expires_at,
            actor=principal_of(request).actor,
            request_id=request_id_of(request),
        )
        return Response(api_key_created_out(issued), status_code=201)

    @route("/", http_method=HttpMethod.OPTIONS, include_in_schema=False, sync_to_thread=False)
    def allow(self) -> Response[None]:
        # As for trades: Litestar's own OPTIONS answer would list only the first handler's method.
        return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})

    @get(
        "/",
        operation_id="listApiKeys",
        opt={SCOPE: "read"},
        summary="The user's keys that are not revoked, newest first (never their secrets)",
        responses=problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
    )
    async def listing(self, state: State, user_id: UserId) -> ApiKeyListOut:
        return api_key_list_out(await services_of(state).api_keys.list(user_id))

    @delete(
        "/{key_id:str}",
        operation_id="revokeApiKey",
        opt={SCOPE: MANAGE},
        summary="Revoke a key: every process refuses it once this answers",
        responses=problems(400, 401, 403, 404, 429, 503, notes=REVOKE_NOTES),
    )
    async def revoke(self, request: Request[Any, Any, Any], state: State, user_id: UserId, key_id: KeyId) -> None:
        await services_of(state).api_keys.revoke(
            user_id, _key_id(key_id), actor=principal_of(request).actor, request_id=request_id_of(request)
        )
