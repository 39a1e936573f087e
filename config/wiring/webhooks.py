"""Webhooks for both roles: the endpoints' service (web) and the relay with the delivery attempts (worker)."""

import contextlib

from config.queues import DELIVER_WEBHOOK_ACTOR, WEBHOOKS_QUEUE
from config.settings import Settings
from config.wiring.background import run_in_background
from config.wiring.reports import queue_sender
from config.wiring.resources import Resources
from domain.adapters.postgres.webhook_deliveries import PostgresWebhookDeliveries
from domain.adapters.postgres.webhooks import PostgresWebhookEndpoints
from domain.adapters.webhook_http import HttpWebhookSender
from domain.models.webhooks import RetryPolicy
from domain.ports.reports import Mailer
from domain.services.webhook_delivery import DeliveryPolicy, WebhookDelivery
from domain.services.webhooks import WebhookService


def webhook_sender(settings: Settings, stack: contextlib.AsyncExitStack) -> HttpWebhookSender:
    """One pooled HTTP client per process; HTTPS only in production."""
    sender = HttpWebhookSender(
        timeout_s=settings.webhook_timeout_s,
        https_only=settings.environment == "production",
        allow_private=settings.webhook_allow_private,
        max_connections=settings.webhook_max_connections,
    )
    stack.push_async_callback(sender.aclose)
    return sender


def webhook_service(resources: Resources, stack: contextlib.AsyncExitStack) -> WebhookService:
    settings = resources.settings
    return WebhookService(
        PostgresWebhookEndpoints(resources.pool),
        webhook_sender(settings, stack),
        rotation_overlap_s=settings.webhook_rotation_overlap_s,
        max_per_user=settings.webhook_endpoints_per_user,
    )


def webhook_delivery(resources: Resources, mailer: Mailer, stack: contextlib.AsyncExitStack) -> WebhookDelivery:
    """The delivery actor's use case, with the relay running in the background of this worker process."""
    settings = resources.settings
    policy = DeliveryPolicy(
        retries=RetryPolicy(delays_s=settings.webhook_retry_delays, jitter=settings.webhook_retry_jitter),
        lease_s=settings.webhook_lease_s,
        disable_after=settings.webhook_disable_after,
        relay_interval_s=settings.webhook_relay_interval_s,
        relay_batch=settings.webhook_relay_batch,
    )
    # The reports' sender adapter is generic: it sends one id to a queue and actor named here.
    queue = queue_sender(resources, WEBHOOKS_QUEUE, DELIVER_WEBHOOK_ACTOR)
    delivery = WebhookDelivery(
        PostgresWebhookDeliveries(resources.pool),
        queue,
        webhook_sender(settings, stack),
        mailer,
        resources.clock,
        policy,
    )
    run_in_background(stack, delivery.relay_forever(), "webhook-relay")
    return delivery
