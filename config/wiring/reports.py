"""What both sides of reports share: the policy, the queue that wakes a worker, the broker (Valkey or RabbitMQ)."""

from dramatiq import Broker

from config.queues import GENERATE_REPORT_ACTOR, QUEUE_ACTORS, REPORTS_QUEUE
from config.settings import Settings
from config.wiring.resources import Resources
from domain.adapters.amqp_queue import AmqpProbe, AmqpQueueBacklog, AmqpReportQueue, build_amqp_broker
from domain.adapters.postgres.report_stats import PostgresReportStatistics
from domain.adapters.queue_backlog import ValkeyQueueBacklog
from domain.adapters.reports_queue import ValkeyReportQueue
from domain.adapters.reports_queue import build_broker as _build_broker
from domain.adapters.valkey import ValkeyProbe, ValkeyServer
from domain.ports.fleet import QueueBacklog
from domain.ports.health import DependencyProbe
from domain.ports.reports import ReportQueue
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


def report_queue(resources: Resources) -> ReportQueue:
    """Enqueues by actor name on the event loop (the web never imports the actors)."""
    return queue_sender(resources, REPORTS_QUEUE, GENERATE_REPORT_ACTOR)


def queue_sender(resources: Resources, queue_name: str, actor_name: str) -> ReportQueue:
    """Sends one id to `actor_name` on the broker in use, without a thread."""
    if resources.amqp is not None:
        return AmqpReportQueue(resources.amqp, queue_name=queue_name, actor_name=actor_name)
    return ValkeyReportQueue(
        _broker_valkey(resources),
        queue_name=queue_name,
        actor_name=actor_name,
        heartbeat_timeout_ms=resources.settings.broker_heartbeat_timeout_ms,
    )


def report_backlog(resources: Resources) -> QueueBacklog:
    """The report queue's depth and oldest age, from the broker in use (on RabbitMQ the age comes from the rows)."""
    if resources.amqp is not None:
        return AmqpQueueBacklog(resources.amqp, REPORTS_QUEUE, PostgresReportStatistics(resources.pool))
    return ValkeyQueueBacklog(_broker_valkey(resources), REPORTS_QUEUE)


def queue_backlogs(resources: Resources) -> dict[str, QueueBacklog]:
    """Every queue's depth and oldest age on Valkey; on RabbitMQ the reports' only (RabbitMQ tells no message's
    age, so only the report queue has one, from the rows)."""
    if resources.amqp is not None:
        return {REPORTS_QUEUE: report_backlog(resources)}
    valkey = _broker_valkey(resources)
    return {queue: ValkeyQueueBacklog(valkey, queue) for queue in QUEUE_ACTORS}


def broker_probe(resources: Resources) -> DependencyProbe:
    """Readiness of the broker in use (on Valkey, the cache's client: its own line all the same)."""
    if resources.amqp is not None:
        return AmqpProbe(resources.amqp)
    return ValkeyProbe("broker", resources.valkey)


def _broker_valkey(resources: Resources) -> ValkeyServer:
    """The single Valkey the Redis broker runs on (settings refuse a cluster without BROKER_URL=amqp://)."""
    if not isinstance(resources.valkey, ValkeyServer):
        raise RuntimeError("VALKEY_CLUSTER_URLS needs BROKER_URL=amqp://...: the Redis broker cannot run on a cluster")
    return resources.valkey


def build_broker(settings: Settings) -> Broker:
    """The Dramatiq broker the worker consumes from (and the clock sends on)."""
    if settings.broker_is_amqp:
        return build_amqp_broker(settings.broker_url, socket_timeout_s=BROKER_TIMEOUT_S)
    return _build_broker(
        settings.valkey_url,
        socket_timeout_s=BROKER_TIMEOUT_S,
        heartbeat_timeout_ms=settings.broker_heartbeat_timeout_ms,
    )
