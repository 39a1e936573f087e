"""In-memory twins of the webhook ports: endpoints and deliveries sharing one state, and a recording sender."""

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.clock import FixedClock
from domain.errors import (
    DeliveryNotFoundError,
    DeliveryPendingError,
    InvalidRequestError,
    UserNotFoundError,
    WebhookNotFoundError,
)
from domain.models.audit import AuditEntry
from domain.models.webhooks import (
    CreatedEndpoint,
    Delivery,
    DeliveryAttempt,
    DeliveryPage,
    DeliveryStatus,
    EndpointChanges,
    NewEndpoint,
    WebhookEndpoint,
    webhook_target,
)
from domain.ports.clock import Clock
from domain.ports.webhooks import WebhookEndpointStore


@dataclass
class _Endpoint:
    view: WebhookEndpoint
    secret: str
    previous: str | None = None
    dead_in_a_row: int = 0
    notify: bool = False


@dataclass
class _Delivery:
    id: str
    seq: int
    endpoint_id: str
    user_id: int
    event_type: str
    payload: bytes
    created_at: datetime
    status: DeliveryStatus = "pending"
    attempts: int = 0
    round_start: int = 0
    next_at: datetime | None = None
    queued_until: datetime | None = None
    lease_until: datetime | None = None
    finished_at: datetime | None = None
    log: list[DeliveryAttempt] = field(default_factory=list)


class InMemoryWebhooks:
    """The rows both twins share; `users` maps a user id to its (email, name)."""

    def __init__(self, clock: Clock | None = None, audit: InMemoryAuditLog | None = None) -> None:
        self.clock = clock or FixedClock()
        self.audit = audit or InMemoryAuditLog(self.clock)
        self.users: dict[int, tuple[str, str]] = {}
        self.endpoints: dict[str, _Endpoint] = {}
        self.outbox: list[tuple[int, str, bytes]] = []
        self.deliveries: dict[str, _Delivery] = {}
        self._seq = itertools.count()

    def record_event(self, user_id: int, event_type: str, payload: bytes) -> None:
        """What `append_event` does in a business write's transaction (only for a subscribed endpoint)."""
        if any(e.view.user_id == user_id and e.view.enabled and event_type in e.view.events for e in self._all()):
            self.outbox.append((user_id, event_type, payload))

    def _all(self) -> list[_Endpoint]:
        return list(self.endpoints.values())

    def endpoint(self, user_id: int, endpoint_id: str) -> _Endpoint:
        if user_id not in self.users:
            raise UserNotFoundError(user_id)
        found = self.endpoints.get(endpoint_id.lower())
        if found is None or found.view.user_id != user_id:
            raise WebhookNotFoundError(endpoint_id)
        return found

    def view(self, e: _Endpoint) -> WebhookEndpoint:
        until = e.view.previous_secret_until
        live = until if until is not None and until > self.clock.now() else None
        return msgspec.structs.replace(e.view, previous_secret_until=live)

    def delivery(self, d: _Delivery) -> Delivery:
        return Delivery(
            id=d.id, endpoint_id=d.endpoint_id, user_id=d.user_id, event_type=d.event_type, status=d.status,
            attempts=tuple(d.log), next_attempt_at=d.next_at if d.status == "pending" else None,
            created_at=d.created_at, finished_at=d.finished_at,
        )  # fmt: skip

    def page(self, found: list[_Delivery], limit: int, cursor: str | None) -> DeliveryPage:
        start = 0
        if cursor is not None:
            ids = [d.id for d in found]
            if cursor not in ids:
                raise InvalidRequestError("the cursor is not one this API gave out", field="cursor")
            start = ids.index(cursor) + 1
        items = found[start : start + limit]
        more = len(found) > start + limit
        return DeliveryPage(items=tuple(self.delivery(d) for d in items), next_cursor=items[-1].id if more else None)

    def new_delivery(self, endpoint: _Endpoint, user_id: int, event_type: str, payload: bytes) -> None:
        d = _Delivery(
            id="msg_" + uuid.uuid4().hex, seq=next(self._seq), endpoint_id=endpoint.view.id, user_id=user_id,
            event_type=event_type, payload=payload, created_at=self.clock.now(), next_at=self.clock.now(),
        )  # fmt: skip
        self.deliveries[d.id] = d


class InMemoryWebhookEndpoints(WebhookEndpointStore):
    def __init__(self, state: InMemoryWebhooks) -> None:
        self.state = state

    async def create(self, endpoint: NewEndpoint, *, audit: AuditEntry) -> CreatedEndpoint:
        if endpoint.user_id not in self.state.users:
            raise UserNotFoundError(endpoint.user_id)
        now = self.state.clock.now()
        view = WebhookEndpoint(
            id=str(uuid.uuid4()), user_id=endpoint.user_id, url=endpoint.url, events=endpoint.events,
            description=endpoint.description, enabled=True, disabled_reason=None, created_at=now, updated_at=now,
            previous_secret_until=None,
        )  # fmt: skip
        self.state.endpoints[view.id] = _Endpoint(view=view, secret=endpoint.secret)
        self.state.audit.record(audit.completed(target=webhook_target(view.user_id, view.id)))
        return CreatedEndpoint(endpoint=view, secret=endpoint.secret)

    async def list(self, user_id: int) -> tuple[WebhookEndpoint, ...]:
        if user_id not in self.state.users:
            raise UserNotFoundError(user_id)
        mine = [self.state.view(e) for e in self.state.endpoints.values() if e.view.user_id == user_id]
        return tuple(reversed(mine))

    async def get(self, user_id: int, endpoint_id: str) -> WebhookEndpoint:
        return self.state.view(self.state.endpoint(user_id, endpoint_id))

    async def update(
        self, user_id: int, endpoint_id: str, changes: EndpointChanges, *, audit: AuditEntry
    ) -> WebhookEndpoint:
        e = self.state.endpoint(user_id, endpoint_id)
        fields = changes.fields()
        if changes.enabled is not None:
            fields["disabled_reason"] = None if changes.enabled else "disabled by its user"
            e.dead_in_a_row = 0 if changes.enabled else e.dead_in_a_row
        e.view = msgspec.structs.replace(e.view, **fields, updated_at=self.state.clock.now())
        self.state.audit.record(audit)
        return self.state.view(e)

    async def delete(self, user_id: int, endpoint_id: str, *, audit: AuditEntry) -> None:
        e = self.state.endpoint(user_id, endpoint_id)
        del self.state.endpoints[e.view.id]
        for d in [d for d in self.state.deliveries.values() if d.endpoint_id == e.view.id]:
            del self.state.deliveries[d.id]
        self.state.audit.record(audit)

    async def rotate(
        self, user_id: int, endpoint_id: str, secret: str, overlap_s: float, *, audit: AuditEntry
    ) -> WebhookEndpoint:
        e = self.state.endpoint(user_id, endpoint_id)
        now = self.state.clock.now()
        e.previous, e.secret = e.secret, secret
        until = now + timedelta(seconds=overlap_s)
        e.view = msgspec.structs.replace(e.view, previous_secret_until=until, updated_at=now)
        self.state.audit.record(audit)
        return self.state.view(e)

    async def deliveries(self, user_id: int, endpoint_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
        e = self.state.endpoint(user_id, endpoint_id)
        found = sorted((d for d in self.state.deliveries.values() if d.endpoint_id == e.view.id), key=lambda d: -d.seq)
        return self.state.page(found, limit, cursor)

    async def redeliver(self, user_id: int, endpoint_id: str, delivery_id: str, *, audit: AuditEntry) -> Delivery:
        e = self.state.endpoint(user_id, endpoint_id)
        d = self.state.deliveries.get(delivery_id)
        if d is None or d.endpoint_id != e.view.id:
            raise DeliveryNotFoundError(delivery_id)
        if d.status == "pending":
            raise DeliveryPendingError(delivery_id)
        d.status, d.round_start, d.next_at, d.finished_at = "pending", d.attempts, self.state.clock.now(), None
        d.queued_until = d.lease_until = None
        self.state.audit.record(audit)
        return self.state.delivery(d)

    async def dead(self, *, limit: int, cursor: str | None) -> DeliveryPage:
        found = [d for d in self.state.deliveries.values() if d.status == "dead"]
        found.sort(key=lambda d: (d.finished_at or d.created_at, d.seq), reverse=True)
        return self.state.page(found, limit, cursor)
