"""What every role opens first: the database pool, the Valkey client, the metrics, the host sampler, the clock."""

import contextlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from config.settings import Settings
from config.wiring.background import run_in_background
from domain.adapters.amqp_queue import AmqpChannel
from domain.adapters.clock import SystemClock
from domain.adapters.host_metrics import PsutilHostMetrics
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.pool import Pool, PoolConfig, open_pool, report_pool
from domain.adapters.prometheus import open_prometheus
from domain.adapters.valkey import PubSubRoute, ValkeyClient, open_valkey, open_valkey_cluster
from domain.ports.clock import Clock
from domain.ports.health import HostMetrics
from domain.ports.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Resources:
    """One process's connections and samplers, shared by every service of its role."""

    settings: Settings
    role: str  # "web", "worker", "feed": the pool's application name and the fleet's process type
    pool: Pool
    valkey: ValkeyClient  # one node (VALKEY_URL) or a cluster (VALKEY_CLUSTER_URLS)
    pubsub: PubSubRoute  # the buses' channels: plain on one node, sharded on a cluster
    host: HostMetrics
    metrics: Metrics
    clock: Clock
    amqp: AmqpChannel | None = None  # BROKER_URL=amqp://: the process's one channel to RabbitMQ (opened on first use)


async def open_resources(settings: Settings, role: str, stack: contextlib.AsyncExitStack) -> Resources:
    """Open them all, each closed by `stack` in reverse order; nothing waits for a server to answer."""
    if not settings.database_url or not (settings.valkey_url or settings.valkey_cluster_nodes):
        raise RuntimeError(
            "DATABASE_URL and VALKEY_URL (or VALKEY_CLUSTER_URLS) must be set (make run starts embedded servers)"
        )
    metrics = open_metrics(settings)
    stack.callback(metrics.close)
    pool = await open_pool(pool_config(settings, f"folio-{role}"), metrics)
    stack.push_async_callback(pool.close)
    valkey = open_shared_valkey(settings)
    stack.push_async_callback(valkey.aclose)
    pubsub = PubSubRoute(
        valkey,
        settings.valkey_cluster_nodes[0] if settings.valkey_cluster_nodes else settings.valkey_url,
        connect_timeout_s=settings.cache_timeout_ms / 1000,
    )
    host = PsutilHostMetrics(settings.health_sample_interval_s)
    host.start()
    stack.callback(host.stop)
    amqp = None
    if settings.broker_is_amqp:
        amqp = AmqpChannel(settings.broker_url, deadline_s=settings.broker_timeout_ms / 1000)
        stack.push_async_callback(amqp.close)
    resources = Resources(settings, role, pool, valkey, pubsub, host, metrics, SystemClock(), amqp)
    _publish_metrics(resources, stack)
    return resources


def open_shared_valkey(settings: Settings) -> ValkeyClient:
    """The process's one Valkey client: a cluster's with VALKEY_CLUSTER_URLS, else VALKEY_URL's."""
    if settings.valkey_cluster_nodes:
        return open_valkey_cluster(
            settings.valkey_cluster_nodes,
            max_connections=settings.redis_max_connections,
            timeout_s=settings.cache_timeout_ms / 1000,
            wait_s=settings.redis_pool_wait_ms / 1000,
        )
    return open_valkey(
        settings.valkey_url,
        max_connections=settings.redis_max_connections,
        timeout_s=settings.cache_timeout_ms / 1000,
        wait_s=settings.redis_pool_wait_ms / 1000,
    )


def pool_config(settings: Settings, name: str) -> PoolConfig:
    """The pool settings, mapped honestly onto psycopg_pool."""
    return PoolConfig(
        url=settings.database_url,
        min_size=settings.database_pool_size,
        max_size=settings.database_pool_size + settings.max_overflow,
        max_lifetime=float(settings.pool_recycle),
        timeout=settings.pool_timeout_s,
        max_waiting=settings.pool_max_waiting,
        connect_timeout=settings.database_connect_timeout_s,
        statement_timeout_ms=settings.statement_timeout_ms,
        deadline_s=settings.db_deadline_s,
        write_deadline_s=settings.db_write_deadline_s,
        check_idle_after_s=settings.pool_pre_ping_idle_s,
        name=name,
        pooled=settings.database_pooler == "pgbouncer",
    )


def open_metrics(settings: Settings) -> Metrics:
    """This process's Prometheus metrics (multiprocess mode, see domain/adapters/prometheus.py), with the
    prices the cost alerts need; `NullMetrics` when METRICS is false."""
    if not settings.metrics:
        return NullMetrics()
    directory = Path(settings.metrics_dir or Path(settings.data_dir) / "metrics")
    metrics = open_prometheus(directory, bind=settings.metrics_bind)
    metrics.costs(
        instance_hour=settings.instance_price_per_hour,
        bandwidth_gb=settings.bandwidth_price_per_gb,
        fixed_month=settings.cache_price_per_month + settings.database_price_per_month,
        budget=settings.monthly_budget_usd,
    )
    metrics.instance_bounds("web", settings.min_instances, settings.max_instances)
    metrics.instance_bounds("worker", settings.worker_min_instances, settings.worker_max_instances)
    return metrics


def _publish_metrics(resources: Resources, stack: contextlib.AsyncExitStack) -> None:
    """Every second: what this process recorded, the pool's state and the host's load."""
    metrics, host = resources.metrics, resources.host
    if not metrics.enabled:
        return
    stack.callback(metrics.watch(partial(report_pool, resources.pool, metrics)))
    stack.callback(metrics.watch(lambda: metrics.host(host.cpu_percent(), host.memory_percent())))
    run_in_background(stack, metrics.run(), "metrics")
