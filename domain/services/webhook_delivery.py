"""Webhook delivery, the worker's side: the relay that moves the outbox and wakes workers, and one attempt.

The relay runs in every worker process (SKIP LOCKED lets them share the work): it turns outbox events into
deliveries, sends each due delivery's id to the queue, and emails users whose endpoint was disabled. An
attempt claims the delivery under a lease, signs and POSTs it, and records what followed; the record, not the
queue, decides what is due, so a lost message or a killed worker delays a delivery and never loses it.
"""

import asyncio
import logging
from dataclasses import dataclass

from domain.errors import DomainError, MailNotSentError, MailOutcomeUnknownError, UnavailableError
from domain.models.reports import Email
from domain.models.webhooks import DisabledEndpoint, RetryPolicy, judge, signature_header
from domain.ports.clock import Clock
from domain.ports.reports import Mailer
from domain.ports.webhooks import DeliveryQueue, WebhookDeliveryStore, WebhookSender

log = logging.getLogger("folio.webhooks")

NOTIFY_BATCH = 20


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    retries: RetryPolicy
    lease_s: float  # an attempt's lease: longer than its timeout
    disable_after: int  # consecutive dead deliveries that disable an endpoint
    relay_interval_s: float
    relay_batch: int


class WebhookDelivery:
    def __init__(
        self,
        store: WebhookDeliveryStore,
        queue: DeliveryQueue,
        sender: WebhookSender,
        mailer: Mailer,
        clock: Clock,
        policy: DeliveryPolicy,
    ) -> None:
        self._store = store
        self._queue = queue
        self._sender = sender
        self._mailer = mailer
        self._clock = clock
        self._policy = policy

    async def deliver(self, delivery_id: str) -> str:
        """One attempt at a delivery, if it is due and nobody else runs it; returns what happened."""
        claim = await self._store.claim(delivery_id, self._policy.lease_s)
        if claim is None:
            return "not due"
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "webhook-id": claim.delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(claim.secrets, claim.delivery_id, timestamp, claim.payload),
        }
        result = await self._sender.post(claim.url, headers, claim.payload)
        outcome = judge(result, claim, self._policy.retries)
        if not await self._store.record(claim, outcome, disable_after=self._policy.disable_after):
            return "superseded"
        return outcome.verdict

    async def relay_once(self) -> int:
        """Move the outbox, send what is due to the queue, tell users of disabled endpoints; returns how many
        deliveries it sent to the queue."""
        batch = self._policy.relay_batch
        while await self._store.fan_out(batch) == batch:
            pass
        due = await self._store.due(batch, self._policy.lease_s)
        for delivery_id in due:
            await self._queue.send(delivery_id)
        for endpoint in await self._store.disabled_to_notify(NOTIFY_BATCH):
            await self._notify(endpoint)
        return len(due)

    async def relay_forever(self) -> None:
        while True:
            try:
                sent = await self.relay_once()
            except DomainError as e:  # the database or the queue is down: the rows wait, try again
                log.warning("webhook relay: %s", e.detail)
                sent = 0
            if sent < self._policy.relay_batch:
                await asyncio.sleep(self._policy.relay_interval_s)

    async def _notify(self, endpoint: DisabledEndpoint) -> None:
        email = Email(
            to=endpoint.email,
            subject="Folio stopped sending webhooks to one of your endpoints",
            text=(
                f"Hello {endpoint.name},\n\nFolio no longer sends webhooks to {endpoint.url}: {endpoint.reason}.\n"
                f"Its deliveries are listed under /api/user/{endpoint.user_id}/webhooks/{endpoint.endpoint_id}"
                "/deliveries. Enable it again (PATCH with enabled: true) once it answers, and redeliver what"
                " you missed.\n"
            ),
            attachment_name="",
            attachment=b"",
        )
        try:
            await self._mailer.send(email)
        except MailNotSentError:
            await self._store.notify_again(endpoint.endpoint_id)
        except (MailOutcomeUnknownError, UnavailableError) as e:
            log.warning("webhook endpoint %s: its user's email may not have been sent (%s)", endpoint.endpoint_id, e)
