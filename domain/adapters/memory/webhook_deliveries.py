"""In-memory twins of the delivery side: the deliveries' record, a queue that keeps what it was sent, and a
sender that answers from a script and keeps what it was asked to POST."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from domain.adapters.memory.webhooks import InMemoryWebhooks, _Delivery
from domain.errors import InvalidRequestError
from domain.models.webhooks import AttemptOutcome, DeliveryAttempt, DeliveryClaim, DisabledEndpoint, SendResult
from domain.ports.webhooks import DeliveryQueue, WebhookDeliveryStore, WebhookSender

GONE_REASON = "the receiver answered 410 Gone"


def _free(until: datetime | None, now: datetime) -> bool:
    return until is None or until < now


class InMemoryWebhookDeliveries(WebhookDeliveryStore):
    def __init__(self, state: InMemoryWebhooks) -> None:
        self.state = state

    async def fan_out(self, limit: int) -> int:
        events, self.state.outbox = self.state.outbox[:limit], self.state.outbox[limit:]
        for user_id, event_type, payload in events:
            for e in list(self.state.endpoints.values()):
                if e.view.user_id == user_id and e.view.enabled and event_type in e.view.events:
                    self.state.new_delivery(e, user_id, event_type, payload)
        return len(events)

    def _due(self, d: _Delivery, now: datetime) -> bool:
        endpoint = self.state.endpoints.get(d.endpoint_id)
        due = d.status == "pending" and d.next_at is not None and d.next_at <= now
        return due and endpoint is not None and endpoint.view.enabled and _free(d.lease_until, now)

    async def due(self, limit: int, requeue_after_s: float) -> list[str]:
        now = self.state.clock.now()
        found = [d for d in self.state.deliveries.values() if self._due(d, now) and _free(d.queued_until, now)]
        found.sort(key=lambda d: (d.next_at or now, d.seq))
        for d in found[:limit]:
            d.queued_until = now + timedelta(seconds=requeue_after_s)
        return [d.id for d in found[:limit]]

    async def claim(self, delivery_id: str, lease_s: float) -> DeliveryClaim | None:
        now = self.state.clock.now()
        d = self.state.deliveries.get(delivery_id)
        if d is None or not self._due(d, now):
            return None
        d.attempts += 1
        d.lease_until = now + timedelta(seconds=lease_s)
        e = self.state.endpoints[d.endpoint_id]
        overlap = e.view.previous_secret_until is not None and e.view.previous_secret_until > now
        secrets = (e.secret, e.previous) if overlap and e.previous else (e.secret,)
        return DeliveryClaim(
            delivery_id=d.id, endpoint_id=d.endpoint_id, attempt=d.attempts,
            attempt_in_round=d.attempts - d.round_start, url=e.view.url, secrets=secrets, payload=d.payload,
        )  # fmt: skip

    async def record(self, claim: DeliveryClaim, outcome: AttemptOutcome, *, disable_after: int) -> bool:
        now = self.state.clock.now()
        d = self.state.deliveries.get(claim.delivery_id)
        if d is None:
            return False
        if all(a.attempt != claim.attempt for a in d.log):
            d.log.append(DeliveryAttempt(attempt=claim.attempt, at=now, status_code=outcome.status_code,
                                         latency_ms=outcome.latency_ms, error=outcome.error))  # fmt: skip
        if d.status != "pending" or d.attempts != claim.attempt:
            return False
        d.lease_until = d.queued_until = None
        if outcome.verdict == "retry":
            d.next_at = now + timedelta(seconds=outcome.delay_s or 0)
            return True
        d.status, d.finished_at = ("succeeded" if outcome.verdict == "succeeded" else "dead"), now
        self._judge_endpoint(d.endpoint_id, outcome, disable_after)
        return True

    def _judge_endpoint(self, endpoint_id: str, outcome: AttemptOutcome, after: int) -> None:
        e = self.state.endpoints.get(endpoint_id)
        if e is None:
            return
        if outcome.verdict == "succeeded":
            e.dead_in_a_row = 0
            return
        reason = GONE_REASON
        if outcome.verdict == "dead":
            e.dead_in_a_row += 1
            reason = f"{after} deliveries in a row failed every attempt"
        if e.view.enabled and (outcome.verdict == "gone" or e.dead_in_a_row >= after):
            e.view = msgspec.structs.replace(e.view, enabled=False, disabled_reason=reason)
            e.notify = True

    async def disabled_to_notify(self, limit: int) -> list[DisabledEndpoint]:
        found = [e for e in self.state.endpoints.values() if e.notify and e.view.user_id in self.state.users][:limit]
        for e in found:
            e.notify = False
        return [_disabled(self.state, e.view.id) for e in found]

    async def notify_again(self, endpoint_id: str) -> None:
        if (e := self.state.endpoints.get(endpoint_id)) is not None:
            e.notify = True


def _disabled(state: InMemoryWebhooks, endpoint_id: str) -> DisabledEndpoint:
    view = state.endpoints[endpoint_id].view
    email, name = state.users[view.user_id]
    reason = view.disabled_reason or ""
    return DisabledEndpoint(
        endpoint_id=view.id, user_id=view.user_id, url=view.url, reason=reason, email=email, name=name
    )


@dataclass
class InMemoryDeliveryQueue(DeliveryQueue):
    sent: list[str] = field(default_factory=list)

    async def send(self, delivery_id: str, /) -> None:
        self.sent.append(delivery_id)


@dataclass
class ScriptedSender(WebhookSender):
    """Answers each POST with the next scripted result (then 200), and keeps every request."""

    script: list[SendResult] = field(default_factory=list)
    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    refused_hosts: tuple[str, ...] = ("localhost", "127.0.0.1")

    async def check(self, url: str) -> None:
        if any(f"//{host}" in url for host in self.refused_hosts):
            raise InvalidRequestError("this URL may not receive webhooks: not a public address", field="url")

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        self.posts.append((url, headers, body))
        return self.script.pop(0) if self.script else SendResult(status_code=200, latency_ms=1.0)
