"""Webhook endpoints and deliveries on the wire."""

from datetime import datetime
from typing import Annotated

import msgspec

from domain.models.webhooks import (
    CreatedEndpoint,
    Delivery,
    DeliveryAttempt,
    DeliveryPage,
    DeliveryStatus,
    EndpointChanges,
    EventType,
    WebhookEndpoint,
)
from gateway.openapi_contract import UUID_PATTERN

DELIVERY_ID_PATTERN = r"^msg_[0-9a-f]{32}$"
SECRET_PATTERN = r"^whsec_[A-Za-z0-9+/]{43}=$"  # noqa: S105 - a pattern
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=10,
        max_length=2000,
        pattern=r"^https?://[!-~]+$",  # printable ASCII, no spaces: a name in IDNA (punycode) form
        description="Where the events are POSTed: https (http outside production), on a public address",
    ),
]
Events = Annotated[
    list[EventType],
    msgspec.Meta(min_length=1, max_length=5, description="The events it receives (repeats are ignored)"),
]
Description = Annotated[
    str, msgspec.Meta(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$", description="What it is for, for you")
]
EndpointId = Annotated[str, msgspec.Meta(pattern=f"^{UUID_PATTERN}$", description="The endpoint's id (a UUID)")]
DeliveryId = Annotated[
    str, msgspec.Meta(pattern=DELIVERY_ID_PATTERN, description="The `webhook-id` every attempt of it carries")
]
Secret = Annotated[
    str,
    msgspec.Meta(
        pattern=SECRET_PATTERN,
        description="The signing secret, shown this once: `whsec_` and 32 random bytes in base64",
    ),
]


class WebhookIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Url
    events: Events
    description: Description = ""


class WebhookPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Only the fields sent change; `"enabled": true` sends again to an endpoint that was disabled."""

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = None

    def to_domain(self) -> EndpointChanges:
        events = None if self.events is None else tuple(self.events)
        return EndpointChanges(url=self.url, events=events, description=self.description, enabled=self.enabled)


class WebhookOut(msgspec.Struct, frozen=True, kw_only=True):
    id: EndpointId
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    previous_secret_expires_at: datetime | None  # while the secret a rotation replaced still signs


class WebhookCreatedOut(msgspec.Struct, frozen=True, kw_only=True):
    secret: Secret
    endpoint: WebhookOut


class WebhookListOut(msgspec.Struct, frozen=True):
    items: list[WebhookOut]


class SecretRotatedOut(msgspec.Struct, frozen=True, kw_only=True):
    secret: Secret
    previous_secret_expires_at: datetime | None  # null: no overlap (WEBHOOK_ROTATION_OVERLAP_S is 0)


class AttemptOut(msgspec.Struct, frozen=True, kw_only=True):
    attempt: int
    at: datetime
    status_code: int | None  # null: no answer (refused, unreachable, timed out)
    latency_ms: float
    error: str | None


class DeliveryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: DeliveryId
    endpoint_id: EndpointId
    user_id: int
    event_type: str
    status: DeliveryStatus
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None


class DeliveryPageOut(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DeliveryOut]
    next_cursor: str | None


def webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        previous_secret_expires_at=endpoint.previous_secret_until,
    )


def webhook_created_out(created: CreatedEndpoint) -> WebhookCreatedOut:
    return WebhookCreatedOut(secret=created.secret, endpoint=webhook_out(created.endpoint))


def _attempt_out(attempt: DeliveryAttempt) -> AttemptOut:
    return AttemptOut(
        attempt=attempt.attempt,
        at=attempt.at,
        status_code=attempt.status_code,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
    )


def delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        user_id=delivery.user_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=[_attempt_out(a) for a in delivery.attempts],
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        finished_at=delivery.finished_at,
    )


def delivery_page_out(page: DeliveryPage) -> DeliveryPageOut:
    return DeliveryPageOut(items=[delivery_out(d) for d in page.items], next_cursor=page.next_cursor)
