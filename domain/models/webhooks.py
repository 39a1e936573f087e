"""Webhooks (the Standard Webhooks specification): endpoints, deliveries, and the pure parts of sending.

The signature is `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` under the secret's
bytes (`whsec_<base64>`). During a rotation's overlap both the new and the previous secret sign, and the
`webhook-signature` header carries both signatures, separated by a space.
"""

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec

EVENT_TYPES = ("report.succeeded", "report.failed", "trade.created", "cash.moved", "user.updated")
EventType = Literal["report.succeeded", "report.failed", "trade.created", "cash.moved", "user.updated"]
DeliveryStatus = Literal["pending", "succeeded", "dead"]
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
SECRET_BYTES = 32  # the specification allows 24 to 64

# Audit actions (dotted names, as domain/models/audit.py's).
WEBHOOK_CREATE = "webhook.create"
WEBHOOK_UPDATE = "webhook.update"
WEBHOOK_DELETE = "webhook.delete"
WEBHOOK_ROTATE = "webhook.rotate"
WEBHOOK_REDELIVER = "webhook.redeliver"

_encoder = msgspec.json.Encoder(decimal_format="string")


def webhook_target(user_id: int, endpoint_id: str) -> str:
    return f"user:{user_id}/webhook:{endpoint_id}"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<signature>` of the message under `secret` (`whsec_<base64 key>`)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(secrets_in_force: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_in_force)


def event_body(event_type: str, at: datetime, data: Any) -> bytes:
    """The JSON body every endpoint receives for one event, encoded once when the event is recorded."""
    return _encoder.encode({"type": event_type, "timestamp": at, "data": data})


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """`delays_s[k]`: the wait before attempt k + 1 of a round (the first is 0: immediately)."""

    delays_s: tuple[float, ...]
    jitter: float = 0.1  # each wait is drawn within +/- this fraction of its value
    max_retry_after_s: float = 86_400.0  # a receiver's Retry-After is honoured up to this

    @property
    def attempts(self) -> int:
        return len(self.delays_s)

    def next_delay(self, attempt_in_round: int, retry_after_s: float | None) -> float | None:
        """The wait before the next attempt, after attempt `attempt_in_round` (1-based) failed; None: dead."""
        if attempt_in_round >= self.attempts:
            return None
        delay = self.delays_s[attempt_in_round] * random.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_retry_after_s))
        return delay


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    user_id: int
    url: str
    events: tuple[str, ...]
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    previous_secret_until: datetime | None  # while the previous secret still signs


class CreatedEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    endpoint: WebhookEndpoint
    secret: str  # shown once


class NewEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    url: str
    events: tuple[str, ...]
    description: str
    secret: str


class EndpointChanges(msgspec.Struct, frozen=True, kw_only=True):
    """The fields a PATCH gives; None: unchanged. Enabling again clears the count of dead deliveries."""

    url: str | None = None
    events: tuple[str, ...] | None = None
    description: str | None = None
    enabled: bool | None = None

    def fields(self) -> dict[str, Any]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not None}


class DeliveryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # the `webhook-id`: the same on every attempt
    endpoint_id: str
    user_id: int
    event_type: str
    status: DeliveryStatus
    attempts: tuple[DeliveryAttempt, ...]
    next_attempt_at: datetime | None  # None once finished
    created_at: datetime
    finished_at: datetime | None


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[Delivery, ...]
    next_cursor: str | None


class DeliveryClaim(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt of a delivery, claimed under a lease: what it sends, and with which secrets."""

    delivery_id: str
    endpoint_id: str
    attempt: int  # the delivery's attempt number (fences every write of this attempt)
    attempt_in_round: int  # 1-based within the current retry round
    url: str
    secrets: tuple[str, ...]
    payload: bytes


Verdict = Literal["succeeded", "retry", "dead", "gone"]


class AttemptOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one attempt found, and what follows: done, again after `delay_s`, or dead."""

    status_code: int | None
    latency_ms: float
    error: str | None
    verdict: Verdict
    delay_s: float | None = None  # with "retry"


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int | None  # None: no answer
    latency_ms: float
    retry_after_s: float | None = None
    error: str | None = None


class DisabledEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """An endpoint Folio stopped sending to, and whom to tell."""

    endpoint_id: str
    user_id: int
    url: str
    reason: str
    email: str
    name: str


def judge(result: SendResult, claim: DeliveryClaim, policy: RetryPolicy) -> AttemptOutcome:
    """2xx: done. 410: the receiver asks to stop. Anything else is retried by the policy, then dead."""
    code = result.status_code

    def outcome(verdict: Verdict, delay_s: float | None = None) -> AttemptOutcome:
        return AttemptOutcome(
            status_code=code, latency_ms=result.latency_ms, error=result.error, verdict=verdict, delay_s=delay_s
        )

    if code is not None and 200 <= code < 300:
        return outcome("succeeded")
    if code == 410:  # Gone
        return outcome("gone")
    delay = policy.next_delay(claim.attempt_in_round, result.retry_after_s if code in (429, 503) else None)
    return outcome("dead") if delay is None else outcome("retry", delay)
