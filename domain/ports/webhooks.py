"""Webhooks: the endpoints' store, the deliveries' record, the queue that wakes a worker, the HTTP sender."""

from abc import abstractmethod
from typing import Protocol

from domain.models.audit import AuditEntry
from domain.models.webhooks import (
    AttemptOutcome,
    CreatedEndpoint,
    Delivery,
    DeliveryClaim,
    DeliveryPage,
    DisabledEndpoint,
    EndpointChanges,
    NewEndpoint,
    SendResult,
    WebhookEndpoint,
)


class WebhookEndpointStore(Protocol):
    """A user's endpoints. Each change commits with its audit entry; every method raises UserNotFoundError
    for an unknown user and WebhookNotFoundError for an endpoint that is not that user's."""

    @abstractmethod
    async def create(self, endpoint: NewEndpoint, *, audit: AuditEntry) -> CreatedEndpoint: ...

    @abstractmethod
    async def list(self, user_id: int) -> tuple[WebhookEndpoint, ...]: ...

    @abstractmethod
    async def get(self, user_id: int, endpoint_id: str) -> WebhookEndpoint: ...

    @abstractmethod
    async def update(
        self, user_id: int, endpoint_id: str, changes: EndpointChanges, *, audit: AuditEntry
    ) -> WebhookEndpoint: ...

    @abstractmethod
    async def delete(self, user_id: int, endpoint_id: str, *, audit: AuditEntry) -> None:
        """Deletes the endpoint and its deliveries (pending ones are never sent)."""

    @abstractmethod
    async def rotate(
        self, user_id: int, endpoint_id: str, secret: str, overlap_s: float, *, audit: AuditEntry
    ) -> WebhookEndpoint:
        """`secret` signs from now on; the one it replaces signs too for `overlap_s` more seconds."""

    @abstractmethod
    async def deliveries(self, user_id: int, endpoint_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
        """Newest first, each with its attempts. Raises InvalidRequestError for a cursor not given out."""

    @abstractmethod
    async def redeliver(self, user_id: int, endpoint_id: str, delivery_id: str, *, audit: AuditEntry) -> Delivery:
        """A finished delivery starts a new round of attempts at once, with the same `webhook-id`.

        Raises DeliveryNotFoundError, or DeliveryPendingError while it is still being attempted."""

    @abstractmethod
    async def dead(self, *, limit: int, cursor: str | None) -> DeliveryPage:
        """Every user's dead deliveries, the most recent first (for operators)."""


class WebhookDeliveryStore(Protocol):
    """The relay's and the delivery actor's record. Every write of an attempt is fenced by its number."""

    @abstractmethod
    async def fan_out(self, limit: int) -> int:
        """Move up to `limit` outbox events into one delivery per enabled endpoint that subscribes; returns
        how many events were moved (0: the outbox is empty)."""

    @abstractmethod
    async def due(self, limit: int, requeue_after_s: float) -> list[str]:
        """Deliveries due now and neither running nor sent to the queue in the last `requeue_after_s`;
        each is marked as sent to the queue."""

    @abstractmethod
    async def claim(self, delivery_id: str, lease_s: float) -> DeliveryClaim | None:
        """Start the next attempt, leased for `lease_s`; None when it is not due, runs elsewhere, or is over."""

    @abstractmethod
    async def record(self, claim: DeliveryClaim, outcome: AttemptOutcome, *, disable_after: int) -> bool:
        """Record the attempt and what follows; False (nothing written) when another attempt took over.

        A dead delivery counts against its endpoint, which is disabled after `disable_after` in a row (and at
        once on "gone"); a success resets the count."""

    @abstractmethod
    async def disabled_to_notify(self, limit: int) -> list[DisabledEndpoint]:
        """Endpoints disabled since their users were last told, each taken off the list as it is returned."""

    @abstractmethod
    async def notify_again(self, endpoint_id: str) -> None:
        """Put an endpoint back on the list (its email was certainly not sent)."""


class DeliveryQueue(Protocol):
    """Wakes a worker to attempt a delivery; the record, not the queue, says what is due."""

    @abstractmethod
    async def send(self, delivery_id: str, /) -> None: ...


class WebhookSender(Protocol):
    """POSTs to receivers on the public internet only (the SSRF guard), following no redirect."""

    @abstractmethod
    async def check(self, url: str) -> None:
        """Raise InvalidRequestError (field `url`) unless the URL may receive webhooks: scheme, and every
        address its host resolves to."""

    @abstractmethod
    async def post(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        """One attempt; never raises for the receiver's faults (they are in the result)."""
