"""The webhook use cases over the in-memory twins: registering, the relay, and one attempt's signing and outcome."""

import pytest
from standardwebhooks.webhooks import Webhook

from domain.adapters.clock import SystemClock
from domain.adapters.memory.reports import InMemoryMailer
from domain.adapters.memory.webhook_deliveries import InMemoryDeliveryQueue, InMemoryWebhookDeliveries, ScriptedSender
from domain.adapters.memory.webhooks import InMemoryWebhookEndpoints, InMemoryWebhooks
from domain.errors import ConflictError, InvalidRequestError, MailNotSentError
from domain.models.audit import Actor
from domain.models.webhooks import RetryPolicy, SendResult
from domain.services.webhook_delivery import DeliveryPolicy, WebhookDelivery
from domain.services.webhooks import WebhookService

ME = Actor(name="user:1", request_id="r1")


class World:
    def __init__(self, *, disable_after: int = 2, attempts: int = 3) -> None:
        self.state = InMemoryWebhooks(SystemClock())
        self.state.users[1] = ("one@example.com", "One")
        self.sender = ScriptedSender()
        self.queue = InMemoryDeliveryQueue()
        self.mailer = InMemoryMailer()
        self.service = WebhookService(
            InMemoryWebhookEndpoints(self.state), self.sender, rotation_overlap_s=60, max_per_user=2
        )
        policy = DeliveryPolicy(
            retries=RetryPolicy(delays_s=(0.0,) * attempts, jitter=0),
            lease_s=30,
            disable_after=disable_after,
            relay_interval_s=0.01,
            relay_batch=100,
        )
        store = InMemoryWebhookDeliveries(self.state)
        self.delivery = WebhookDelivery(store, self.queue, self.sender, self.mailer, SystemClock(), policy)

    async def register(self, url: str = "https://example.com/hook") -> tuple[str, str]:
        created = await self.service.create(1, url=url, events=("user.updated",), description="", caller=ME)
        return created.endpoint.id, created.secret

    async def run_all(self) -> None:
        """Relay and attempt until nothing is due (each retry here waits 0 s)."""
        while await self.delivery.relay_once():
            for delivery_id in self.queue.sent:
                await self.delivery.deliver(delivery_id)
            self.queue.sent.clear()


async def test_registering_checks_the_url_and_the_limit_and_audits_the_endpoint():
    world = World()
    with pytest.raises(InvalidRequestError) as refused:
        await world.register("http://localhost:8080/hook")
    assert refused.value.field == "url"
    endpoint_id, secret = await world.register()
    assert secret.startswith("whsec_")
    await world.register()
    with pytest.raises(ConflictError):
        await world.register()
    assert next((r.action, r.target) for r in world.state.audit.records) == (
        "webhook.create", f"user:1/webhook:{endpoint_id}",
    )  # fmt: skip


async def test_an_attempt_posts_the_event_signed_with_the_spec_headers():
    world = World()
    _, secret = await world.register()
    world.state.record_event(1, "user.updated", b'{"type":"user.updated"}')
    await world.run_all()
    [(url, headers, body)] = world.sender.posts
    assert url == "https://example.com/hook"
    assert headers["webhook-id"].startswith("msg_")
    assert Webhook(secret).verify(body, headers) == {"type": "user.updated"}


async def test_after_a_rotation_both_secrets_verify_the_same_post():
    world = World()
    endpoint_id, old = await world.register()
    _, new = await world.service.rotate(1, endpoint_id, caller=ME)
    world.state.record_event(1, "user.updated", b"{}")
    await world.run_all()
    [(_, headers, body)] = world.sender.posts
    assert Webhook(old).verify(body, headers) == Webhook(new).verify(body, headers) == {}


async def test_failures_are_retried_under_one_id_and_the_last_is_dead():
    world = World(disable_after=5)
    await world.register()
    world.sender.script = [SendResult(status_code=500, latency_ms=1.0)] * 3
    world.state.record_event(1, "user.updated", b"{}")
    await world.run_all()
    assert len(world.sender.posts) == 3
    assert len({headers["webhook-id"] for _, headers, _ in world.sender.posts}) == 1
    [delivery] = world.state.deliveries.values()
    assert (delivery.status, [a.status_code for a in delivery.log]) == ("dead", [500, 500, 500])


async def test_an_endpoint_disabled_by_dead_deliveries_emails_its_user_once():
    world = World(disable_after=1, attempts=1)
    await world.register()
    world.sender.script = [SendResult(status_code=503, latency_ms=1.0)]
    world.state.record_event(1, "user.updated", b"{}")
    await world.run_all()
    await world.delivery.relay_once()
    [mail] = world.mailer.sent
    assert mail.to == "one@example.com"
    assert "https://example.com/hook" in mail.text


async def test_an_email_certainly_not_sent_is_tried_again_by_the_next_relay():
    world = World()
    await world.register()
    world.sender.script = [SendResult(status_code=410, latency_ms=1.0)]
    world.state.record_event(1, "user.updated", b"{}")
    world.mailer.fail_with = MailNotSentError("refused")
    await world.run_all()
    assert world.mailer.sent == []
    world.mailer.fail_with = None
    await world.delivery.relay_once()
    assert len(world.mailer.sent) == 1


async def test_a_delivery_sent_to_the_queue_twice_is_attempted_once():
    world = World()
    await world.register()
    world.state.record_event(1, "user.updated", b"{}")
    await world.delivery.relay_once()
    [delivery_id] = world.queue.sent
    assert await world.delivery.deliver(delivery_id) == "succeeded"
    assert await world.delivery.deliver(delivery_id) == "not due"
    assert len(world.sender.posts) == 1
