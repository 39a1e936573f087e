"""Webhook endpoints as their users manage them: register (the secret shown once), change, rotate, redeliver."""

from domain.errors import ConflictError
from domain.models.audit import Actor, AuditEntry
from domain.models.webhooks import (
    WEBHOOK_CREATE,
    WEBHOOK_DELETE,
    WEBHOOK_REDELIVER,
    WEBHOOK_ROTATE,
    WEBHOOK_UPDATE,
    CreatedEndpoint,
    Delivery,
    DeliveryPage,
    EndpointChanges,
    NewEndpoint,
    WebhookEndpoint,
    generate_secret,
    webhook_target,
)
from domain.ports.webhooks import WebhookEndpointStore, WebhookSender


class WebhookService:
    def __init__(
        self, store: WebhookEndpointStore, sender: WebhookSender, *, rotation_overlap_s: float, max_per_user: int
    ) -> None:
        self._store = store
        self._sender = sender
        self._overlap_s = rotation_overlap_s
        self._max_per_user = max_per_user

    def _audit(self, caller: Actor, action: str, user_id: int, endpoint_id: str, **change: object) -> AuditEntry:
        target = webhook_target(user_id, endpoint_id)
        return AuditEntry.by(caller, action, target, change)

    async def create(
        self, user_id: int, *, url: str, events: tuple[str, ...], description: str, caller: Actor
    ) -> CreatedEndpoint:
        """A new endpoint; raises InvalidRequestError (field `url`) for a URL that may not receive webhooks."""
        await self._sender.check(url)
        if len(await self._store.list(user_id)) >= self._max_per_user:
            raise ConflictError(f"user {user_id} already has {self._max_per_user} webhook endpoints: delete one first")
        events = tuple(dict.fromkeys(events))
        audit = self._audit(caller, WEBHOOK_CREATE, user_id, "new", url=url, events=list(events))
        endpoint = NewEndpoint(
            user_id=user_id, url=url, events=events, description=description, secret=generate_secret()
        )
        return await self._store.create(endpoint, audit=audit)

    async def list(self, user_id: int) -> tuple[WebhookEndpoint, ...]:
        return await self._store.list(user_id)

    async def get(self, user_id: int, endpoint_id: str) -> WebhookEndpoint:
        return await self._store.get(user_id, endpoint_id)

    async def update(
        self, user_id: int, endpoint_id: str, changes: EndpointChanges, *, caller: Actor
    ) -> WebhookEndpoint:
        if changes.url is not None:
            await self._sender.check(changes.url)
        if changes.events is not None:
            changes = EndpointChanges(
                url=changes.url,
                events=tuple(dict.fromkeys(changes.events)),
                description=changes.description,
                enabled=changes.enabled,
            )
        fields = {k: list(v) if isinstance(v, tuple) else v for k, v in changes.fields().items()}
        audit = self._audit(caller, WEBHOOK_UPDATE, user_id, endpoint_id, **fields)
        return await self._store.update(user_id, endpoint_id, changes, audit=audit)

    async def delete(self, user_id: int, endpoint_id: str, *, caller: Actor) -> None:
        await self._store.delete(user_id, endpoint_id, audit=self._audit(caller, WEBHOOK_DELETE, user_id, endpoint_id))

    async def rotate(self, user_id: int, endpoint_id: str, *, caller: Actor) -> tuple[WebhookEndpoint, str]:
        """A new secret (returned, shown once); the previous one keeps signing for the overlap."""
        secret = generate_secret()
        audit = self._audit(caller, WEBHOOK_ROTATE, user_id, endpoint_id, overlap_s=self._overlap_s)
        endpoint = await self._store.rotate(user_id, endpoint_id, secret, self._overlap_s, audit=audit)
        return endpoint, secret

    async def deliveries(self, user_id: int, endpoint_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
        return await self._store.deliveries(user_id, endpoint_id, limit=limit, cursor=cursor)

    async def redeliver(self, user_id: int, endpoint_id: str, delivery_id: str, *, caller: Actor) -> Delivery:
        audit = self._audit(caller, WEBHOOK_REDELIVER, user_id, endpoint_id, delivery_id=delivery_id)
        return await self._store.redeliver(user_id, endpoint_id, delivery_id, audit=audit)

    async def dead(self, *, limit: int, cursor: str | None) -> DeliveryPage:
        return await self._store.dead(limit=limit, cursor=cursor)
