"""Users: operators create, list and erase them; a user reads and updates itself (an operator may too)."""

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.params import JSONBody, QueryParameter

from domain.errors import ForbiddenError
from domain.models.users import EMAIL_PATTERN, MAX_EMAIL
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.responses import FolioResponse
from gateway.routes.portfolios import UserId
from gateway.routes.trades import Cursor, Limit
from gateway.security import SCOPE, actor_of, principal_of
from gateway.trade_schemas import decode_cursor
from gateway.user_schemas import UserIn, UserOut, UserPageOut, UserPatch, user_out, user_page_out

EmailFilter = Annotated[
    str | None,
    QueryParameter(
        min_length=3,
        max_length=MAX_EMAIL,
        pattern=EMAIL_PATTERN,
        description="Only the user with this email (compared without case)",
        schema_extra={"one_of": None, "type": "string"},
    ),
]
FIELD_RULES = (
    "`email` an address (local@domain, at most 254 characters, compared without case), `name` 1 to 200 characters"
    " without control characters, `external_id` 1 to 255 printable ASCII characters, `base_currency` three capital"
    " letters"
)
CONFLICT = "Another user already has this `email` or `external_id`; `errors` names the field"
ONE_USER = {403: "A user token may reach only its own user", 404: "No user with this id, or the user was erased"}


class UserController(Controller):
    path = "/api/users"
    tags = ["users"]

    @route("/", http_method=HttpMethod.OPTIONS, include_in_schema=False, sync_to_thread=False)
    def allow_all(self) -> Response[None]:
        # Litestar's own OPTIONS answer lists only the first handler's method (see the trades controller).
        return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})

    @route("/{user_id:int}", http_method=HttpMethod.OPTIONS, include_in_schema=False, sync_to_thread=False)
    def allow_one(self) -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": "DELETE, GET, OPTIONS, PATCH"})

    @post(
        "/",
        operation_id="createUser",
        summary="Operators: create a user",
        description=f"{FIELD_RULES}. `base_currency` defaults to USD.",
        opt={"operator_only": True},
        responses=problems(
            400,
            401,
            403,
            409,
            413,
            422,
            429,
            503,
            notes={403: "Operators only", 409: CONFLICT, 422: "A field breaks its rule; `errors` names it"},
        ),
    )
    async def create(self, request: Request[Any, Any, Any], state: State, data: JSONBody[UserIn]) -> Response[UserOut]:
        user = await services_of(state).users.create(data.to_domain(), actor=actor_of(request))
        return FolioResponse(user_out(user), status_code=201, headers={"Location": f"{self.path}/{user.id}"})

    @get(
        "/",
        operation_id="listUsers",
        summary="Operators: users, newest first, paged by cursor; `email` finds one",
        opt={"operator_only": True, "reads_users": True},
        responses=problems(
            400, 401, 403, 422, 429, 503, notes={403: "Operators only", 422: "`email` is not an address"}
        ),
    )
    async def page(
        self, state: State, limit: Limit = 50, cursor: Cursor = None, email: EmailFilter = None
    ) -> UserPageOut:
        users = services_of(state).users
        return user_page_out(await users.page(limit=limit, before=decode_cursor(cursor), email=email))

    @get(
        "/me",
        operation_id="getCurrentUser",
        summary="The caller's own profile: whose user's token, API key or identity provider's token this is",
        opt={SCOPE: "read"},
        responses=problems(
            401,
            403,
            404,
            429,
            503,
            notes={403: "An operator's token, which is no user's", 404: "The user was erased"},
        ),
    )
    async def me(self, request: Request[Any, Any, Any], state: State) -> UserOut:
        user_id = principal_of(request).user_id
        if user_id is None:
            raise ForbiddenError("an operator's token is no user's: read a user at /api/users/{user_id}")
        return user_out(await services_of(state).users.get(user_id))

    @get(
        "/{user_id:int}",
        operation_id="getUser",
        summary="The user's profile",
        opt={SCOPE: "read"},
        responses=problems(400, 401, 403, 404, 429, 503, notes=ONE_USER),
    )
    async def get(self, state: State, user_id: UserId) -> UserOut:
        return user_out(await services_of(state).users.get(user_id))

    @patch(
        "/{user_id:int}",
        operation_id="updateUser",
        summary="Change the fields sent; only an operator changes `external_id`",
        description=f'{FIELD_RULES}. `"external_id": null` unlinks the identity provider.',
        responses=problems(
            400,
            401,
            403,
            404,
            409,
            413,
            422,
            429,
            503,
            notes={
                **ONE_USER,
                403: "A user token for another user, or one that changes `external_id` (operators only)",
                409: CONFLICT,
                422: "A field breaks its rule; `errors` names it",
            },
        ),
    )
    async def update(
        self, request: Request[Any, Any, Any], state: State, user_id: UserId, data: JSONBody[UserPatch]
    ) -> UserOut:
        principal = principal_of(request)
        users = services_of(state).users
        changed = await users.update(
            user_id, data.to_domain(), actor=actor_of(request), may_relink=principal.is_operator
        )
        return user_out(changed)

    @delete(
        "/{user_id:int}",
        operation_id="eraseUser",
        summary="Operators: erase the user's personal data; its financial records stay, pseudonymised",
        opt={"operator_only": True},
        responses=problems(400, 401, 403, 404, 429, 503, notes={**ONE_USER, 403: "Operators only"}),
    )
    async def erase(self, request: Request[Any, Any, Any], state: State, user_id: UserId) -> None:
        await services_of(state).users.erase(user_id, actor=actor_of(request))
