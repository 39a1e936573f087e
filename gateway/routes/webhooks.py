"""Webhook endpoints: a user registers, changes, rotates and deletes them, and lists and redelivers their
deliveries; operators list the dead deliveries of every user."""

import re
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.exceptions import ValidationException
from litestar.params import JSONBody, PathParameter

from gateway.dependencies import services_of
from gateway.openapi_contract import UUID_PATTERN
from gateway.openapi_schemas import problems
from gateway.routes.portfolios import USER_NOTES, UserId
from gateway.routes.reports import CURSOR_NOTE, Cursor, Limit
from gateway.security import MANAGE, SCOPE, actor_of
from gateway.webhook_schemas import (
    DELIVERY_ID_PATTERN,
    DeliveryOut,
    DeliveryPageOut,
    SecretRotatedOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookListOut,
    WebhookOut,
    WebhookPatch,
    delivery_out,
    delivery_page_out,
    webhook_created_out,
    webhook_out,
)

_UUID = re.compile(UUID_PATTERN)
_DELIVERY = re.compile(DELIVERY_ID_PATTERN)
WebhookId = Annotated[
    str,
    PathParameter(
        description="The endpoint's `id`, as its creation or the listing gave it",
        schema_extra={"format": "uuid", "pattern": f"^{UUID_PATTERN}$"},
    ),
]
DeliveryIdParam = Annotated[
    str,
    PathParameter(description="The delivery's `id` (its `webhook-id`)", schema_extra={"pattern": DELIVERY_ID_PATTERN}),
]
MANAGE_NOTES = {
    **USER_NOTES,
    403: "A user token may manage only its own user's webhooks; an API key may not manage them",
}
ONE_NOTES = {**MANAGE_NOTES, 404: "No such user, or no such endpoint of theirs"}
READ_NOTES = {**USER_NOTES, 404: "No such user, or no such endpoint of theirs"}
URL_NOTE = "The URL may not receive webhooks (not https in production, or its host is not public); `errors` names `url`"


def _webhook_id(value: str) -> str:
    if not _UUID.fullmatch(value):
        raise ValidationException(
            "webhook_id is wrong",
            extra=[{"key": "webhook_id", "source": "path", "message": "must be a UUID, as the endpoint's `id`"}],
        )
    return value.lower()


def _delivery_id(value: str) -> str:
    if not _DELIVERY.fullmatch(value):
        raise ValidationException(
            "delivery_id is wrong",
            extra=[{"key": "delivery_id", "source": "path", "message": "must be a delivery's `id` (msg_...)"}],
        )
    return value


class WebhookController(Controller):
    path = "/api/user/{user_id:int}/webhooks"
    tags = ["webhooks"]

    @post(
        "/",
        operation_id="createWebhook",
        opt={SCOPE: MANAGE},
        summary="A new endpoint: its signing secret is in this answer and nowhere else, ever",
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
            notes={**MANAGE_NOTES, 409: "The user has as many endpoints as allowed: delete one first", 422: URL_NOTE},
        ),
    )
    async def create(
        self, request: Request[Any, Any, Any], state: State, user_id: UserId, data: JSONBody[WebhookIn]
    ) -> Response[WebhookCreatedOut]:
        created = await services_of(state).webhooks.create(
            user_id, url=data.url, events=tuple(data.events), description=data.description, caller=actor_of(request)
        )
        return Response(webhook_created_out(created), status_code=201)

    @route("/", http_method=HttpMethod.OPTIONS, include_in_schema=False, sync_to_thread=False)
    def allow(self) -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})

    @get(
        "/",
        operation_id="listWebhooks",
        opt={SCOPE: "read"},
        summary="The user's endpoints, newest first (never their secrets)",
        responses=problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
    )
    async def listing(self, state: State, user_id: UserId) -> WebhookListOut:
        return WebhookListOut(items=[webhook_out(e) for e in await services_of(state).webhooks.list(user_id)])

    @get(
        "/{webhook_id:str}",
        operation_id="getWebhook",
        opt={SCOPE: "read"},
        summary="One endpoint",
        responses=problems(400, 401, 403, 404, 429, 503, notes=READ_NOTES),
    )
    async def one(self, state: State, user_id: UserId, webhook_id: WebhookId) -> WebhookOut:
        return webhook_out(await services_of(state).webhooks.get(user_id, _webhook_id(webhook_id)))

    @route("/{webhook_id:str}", http_method=HttpMethod.OPTIONS, include_in_schema=False, sync_to_thread=False)
    def allow_one(self) -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": "DELETE, GET, OPTIONS, PATCH"})

    @patch(
        "/{webhook_id:str}",
        operation_id="updateWebhook",
        opt={SCOPE: MANAGE},
        summary="Change the fields sent; `enabled: true` sends again to a disabled endpoint",
        responses=problems(400, 401, 403, 404, 413, 422, 429, 503, notes={**ONE_NOTES, 422: URL_NOTE}),
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_id: UserId,
        webhook_id: WebhookId,
        data: JSONBody[WebhookPatch],
    ) -> WebhookOut:
        changed = await services_of(state).webhooks.update(
            user_id, _webhook_id(webhook_id), data.to_domain(), caller=actor_of(request)
        )
        return webhook_out(changed)

    @delete(
        "/{webhook_id:str}",
        operation_id="deleteWebhook",
        opt={SCOPE: MANAGE},
        summary="Delete the endpoint and its deliveries: nothing more is sent to it",
        responses=problems(400, 401, 403, 404, 429, 503, notes=ONE_NOTES),
    )
    async def remove(
        self, request: Request[Any, Any, Any], state: State, user_id: UserId, webhook_id: WebhookId
    ) -> None:
        await services_of(state).webhooks.delete(user_id, _webhook_id(webhook_id), caller=actor_of(request))

    @post(
        "/{webhook_id:str}/rotate-secret",
        operation_id="rotateWebhookSecret",
        opt={SCOPE: MANAGE},
        status_code=200,
        summary="A new signing secret; the previous one keeps signing for WEBHOOK_ROTATION_OVERLAP_S",
        responses=problems(400, 401, 403, 404, 429, 503, notes=ONE_NOTES),
    )
    async def rotate(
        self, request: Request[Any, Any, Any], state: State, user_id: UserId, webhook_id: WebhookId
    ) -> SecretRotatedOut:
        endpoint, secret = await services_of(state).webhooks.rotate(
            user_id, _webhook_id(webhook_id), caller=actor_of(request)
        )
        return SecretRotatedOut(secret=secret, previous_secret_expires_at=endpoint.previous_secret_until)

    @get(
        "/{webhook_id:str}/deliveries",
        operation_id="listWebhookDeliveries",
        opt={SCOPE: "read"},
        summary="The endpoint's deliveries, newest first, each with its attempts (status, latency, response code)",
        responses=problems(400, 401, 403, 404, 422, 429, 503, notes={**READ_NOTES, 422: CURSOR_NOTE}),
    )
    async def deliveries(
        self, state: State, user_id: UserId, webhook_id: WebhookId, limit: Limit = 50, cursor: Cursor = None
    ) -> DeliveryPageOut:
        page = await services_of(state).webhooks.deliveries(
            user_id, _webhook_id(webhook_id), limit=limit, cursor=cursor
        )
        return delivery_page_out(page)

    @post(
        "/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver",
        operation_id="redeliverWebhook",
        opt={SCOPE: MANAGE},
        status_code=202,
        summary="Send a finished delivery again (same `webhook-id`), with a new round of retries",
        responses=problems(
            400,
            401,
            403,
            404,
            409,
            429,
            503,
            notes={
                **ONE_NOTES,
                404: "No such user, endpoint of theirs, or delivery of that endpoint",
                409: "The delivery is still being attempted",
            },
        ),
    )
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_id: UserId,
        webhook_id: WebhookId,
        delivery_id: DeliveryIdParam,
    ) -> DeliveryOut:
        delivery = await services_of(state).webhooks.redeliver(
            user_id, _webhook_id(webhook_id), _delivery_id(delivery_id), caller=actor_of(request)
        )
        return delivery_out(delivery)


class DeadDeliveryController(Controller):
    path = "/api/ops/webhooks"
    tags = ["operations"]

    @get(
        "/dead-deliveries",
        operation_id="listDeadWebhookDeliveries",
        summary="Operators: every user's dead deliveries (all attempts failed, or 410), the latest first",
        opt={"operator_only": True},
        responses=problems(400, 401, 403, 422, 429, 503, notes={403: "Operators only", 422: CURSOR_NOTE}),
    )
    async def dead(self, state: State, limit: Limit = 50, cursor: Cursor = None) -> DeliveryPageOut:
        return delivery_page_out(await services_of(state).webhooks.dead(limit=limit, cursor=cursor))
