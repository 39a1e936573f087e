"""What both sides of reports share: the policy, the queue that wakes a worker, the broker."""

from dramatiq import Broker

from config.queues import GENERATE_REPORT_ACTOR, REPORTS_QUEUE
from config.settings import Settings
from config.wiring.resources import Resources
from domain.adapters.reports_queue import ValkeyReportQueue
from domain.adapters.reports_queue import build_broker as _build_broker
from domain.services.reports.policy import ReportPolicy

BROKER_TIMEOUT_S = 5.0


def report_policy(settings: Settings) -> ReportPolicy:
    return ReportPolicy(
        deadline_s=settings.report_deadline_s,
        max_attempts=settings.report_max_attempts,
        history_days=settings.report_history_days,
        risk_free_rate=settings.risk_free_rate,
        estimate_s=settings.report_estimate_s,
        base_currency=settings.base_currency,
    )


def report_queue(resources: Resources) -> ValkeyReportQueue:
    """Enqueues by actor name on the event loop (the web never imports the actors)."""
    return ValkeyReportQueue(
        resources.valkey,
        queue_name=REPORTS_QUEUE,
        actor_name=GENERATE_REPORT_ACTOR,
        heartbeat_timeout_ms=resources.settings.broker_heartbeat_timeout_ms,
    )


def build_broker(settings: Settings) -> Broker:
    """The Dramatiq broker the worker consumes from."""
    return _build_broker(
        settings.valkey_url,
        socket_timeout_s=BROKER_TIMEOUT_S,
        heartbeat_timeout_ms=settings.broker_heartbeat_timeout_ms,
    )
