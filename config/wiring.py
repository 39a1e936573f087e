"""The composition root: every pool, client and service is built here, once, for web and worker."""

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from dramatiq import Broker

from config.queues import GENERATE_REPORT_ACTOR, REPORTS_QUEUE
from config.settings import Settings
from domain.adapters.breaker import CircuitBreaker
from domain.adapters.host_metrics import PsutilHostMetrics
from domain.adapters.memory_ops import NullMetrics
from domain.adapters.pdf import ReportlabRenderer, warm_up
from domain.adapters.postgres.holdings import PostgresHoldingsRepository
from domain.adapters.postgres.pool import Pool, PoolConfig, PostgresProbe, open_pool, report_pool
from domain.adapters.postgres.quotes import PostgresQuoteRepository
from domain.adapters.postgres.report_stats import PostgresReportStatistics
from domain.adapters.postgres.reports import PostgresReportRepository
from domain.adapters.postgres.trades import PostgresTradeStore
from domain.adapters.prometheus import open_prometheus
from domain.adapters.queue_backlog import ValkeyQueueBacklog
from domain.adapters.reports_queue import ValkeyReportQueue
from domain.adapters.reports_queue import build_broker as _build_broker
from domain.adapters.smtp import SmtpMailer
from domain.adapters.valkey import ValkeyClient, ValkeyProbe, open_valkey
from domain.adapters.valkey_bus import ValkeyInvalidationBus
from domain.adapters.valkey_cache import ValkeyHoldingsCache
from domain.adapters.valkey_fleet import ValkeyFleetRegistry
from domain.adapters.valkey_quote_bus import ValkeyQuoteVersionBus
from domain.adapters.valkey_rate_limit import ValkeyRateLimitStore
from domain.errors import UnavailableError
from domain.models import QuoteSnapshot
from domain.ops_ports import HostMetrics, Metrics
from domain.scaling import ScalingPolicy, web_policy, worker_policy
from domain.services.fleet import WEB, WORKER, FleetService, Identity
from domain.services.health import HealthService
from domain.services.market_data import MarketDataService, QuoteBook, QuoteFollower
from domain.services.portfolios import PortfolioService
from domain.services.rate_limits import RateLimiter
from domain.services.reports import ReportPolicy, ReportService, ReportTools
from domain.services.telemetry import ReportTelemetry
from domain.services.trades import TradeService

log = logging.getLogger("folio.wiring")

QUOTE_POLL_S = 0.5
BROKER_TIMEOUT_S = 5.0
TASK_STOP_TIMEOUT_S = 2.0
REPORT_METRICS_S = 15.0  # report rows and queue, sampled by each web process


@dataclass(frozen=True, slots=True)
class Services:
    """Ready use-case objects, handed to the gateway and the actors."""

    settings: Settings
    portfolios: PortfolioService
    trades: TradeService
    quotes: QuoteBook
    health: HealthService
    market_data: MarketDataService
    reports: ReportService
    rate_limits: RateLimiter | None = None  # web processes only, unless RATE_LIMIT is off
    fleet: FleetService | None = None  # heartbeats and the fleet's scaling decisions (issue 7)
    metrics: Metrics = field(default_factory=NullMetrics)  # Prometheus, or nothing when METRICS=false


def pool_config(settings: Settings, name: str) -> PoolConfig:
    """The seed's pool settings, mapped honestly onto psycopg_pool."""
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
    )


@contextlib.asynccontextmanager
async def open_services(settings: Settings, *, role: str = "web") -> AsyncIterator[Services]:
    """Open every resource, yield the services, and close everything on the way out."""
    if not settings.database_url or not settings.valkey_url:
        raise RuntimeError("DATABASE_URL and VALKEY_URL must be set (make run starts embedded servers)")
    async with contextlib.AsyncExitStack() as stack:
        telemetry = open_metrics(settings)
        stack.callback(telemetry.close)
        pool = await open_pool(pool_config(settings, f"folio-{role}"), telemetry if settings.metrics else None)
        stack.push_async_callback(pool.close)
        valkey = open_valkey(
            settings.valkey_url,
            max_connections=settings.redis_max_connections,
            timeout_s=settings.cache_timeout_ms / 1000,
            wait_s=settings.redis_pool_wait_ms / 1000,
        )
        stack.push_async_callback(valkey.aclose)
        metrics = PsutilHostMetrics(settings.health_sample_interval_s)
        metrics.start()
        stack.callback(metrics.stop)
        _sample_metrics(settings, telemetry, pool, valkey, metrics, role, stack)
        book = QuoteBook(PostgresQuoteRepository(pool), settings.base_currency)
        quote_bus = ValkeyQuoteVersionBus(valkey, settings.valkey_url)
        if role == "web":
            await _first_snapshot(book)
            # Pub/sub refreshes at once after an ingest; the poll is the fallback when Valkey is down.
            follower = QuoteFollower(book, QUOTE_POLL_S)
            stack.push_async_callback(_cancel, asyncio.create_task(follower.run(), name="quote-follower"))
            listener = asyncio.create_task(quote_bus.listen(follower.nudge), name="quote-listener")
            stack.push_async_callback(_cancel, listener)
        portfolios = _portfolios(settings, pool, valkey, book, telemetry)
        if role == "web" and settings.portfolio_cache:
            stack.push_async_callback(_cancel, asyncio.create_task(portfolios.listen(), name="invalidations"))
        rate_limits = _rate_limits(settings, valkey, telemetry) if role == "web" and settings.rate_limit else None
        reports = await _reports(settings, pool, valkey, book, role, stack, telemetry)
        if rate_limits is not None:
            stack.push_async_callback(_cancel, asyncio.create_task(rate_limits.run(), name="rate-limit-sync"))
        health = HealthService(
            metrics,
            # The broker lives on the same Valkey as the cache; each gets its own readiness line.
            [PostgresProbe(pool), ValkeyProbe("cache", valkey), ValkeyProbe("broker", valkey)],
            policy=web_scaling_policy(settings),
            sample_interval_s=settings.health_sample_interval_s,
        )
        stack.push_async_callback(_cancel, asyncio.create_task(health.sample_forever(), name="health-sampler"))
        fleet = _fleet(settings, valkey, metrics, role, telemetry)
        stack.push_async_callback(_cancel, asyncio.create_task(fleet.run(), name="fleet-heartbeat"))
        yield Services(
            settings=settings,
            portfolios=portfolios,
            trades=TradeService(PostgresTradeStore(pool), portfolios.invalidate),
            quotes=book,
            health=health,
            market_data=MarketDataService(
                book, PostgresQuoteRepository(pool), quote_bus, max_batch=settings.quote_batch_max
            ),
            reports=reports,
            rate_limits=rate_limits,
            fleet=fleet,
            metrics=telemetry,
        )


def web_scaling_policy(settings: Settings) -> ScalingPolicy:
    """The web processes' autoscaling policy: the seed's CPU and memory targets, bounds and cooldowns."""
    return web_policy(
        min_instances=settings.min_instances,
        max_instances=settings.max_instances,
        target_cpu=settings.auto_scale_target_cpu,
        target_memory=settings.auto_scale_target_memory,
        low_cpu=settings.auto_scale_low_cpu,
        scale_out_cooldown_s=settings.scale_out_cooldown,
        scale_in_cooldown_s=settings.scale_in_cooldown,
        window_s=settings.scale_window_s,
    )


def worker_scaling_policy(settings: Settings) -> ScalingPolicy:
    """The workers' autoscaling policy: report backlog per worker and the oldest report's wait."""
    return worker_policy(
        min_instances=settings.worker_min_instances,
        max_instances=settings.worker_max_instances,
        target_backlog=settings.worker_target_backlog,
        target_queue_age_s=settings.worker_target_queue_age_s,
        scale_out_cooldown_s=settings.scale_out_cooldown,
        scale_in_cooldown_s=settings.scale_in_cooldown,
        window_s=settings.scale_window_s,
    )


def _fleet(
    settings: Settings, valkey: ValkeyClient, host: PsutilHostMetrics, role: str, telemetry: Metrics
) -> FleetService:
    """This process in the fleet view: its heartbeat, and a share of computing every type's decision."""
    me = Identity(
        process=role, instance=settings.instance_id or socket.gethostname(), pid=os.getpid(), started_at=time.time()
    )
    return FleetService(
        ValkeyFleetRegistry(valkey),
        host,
        {WEB: web_scaling_policy(settings), WORKER: worker_scaling_policy(settings)},
        me=me,
        backlog=ValkeyQueueBacklog(valkey, REPORTS_QUEUE),
        heartbeat_s=settings.fleet_heartbeat_s,
        ttl_s=settings.fleet_heartbeat_ttl_s,
        metrics=telemetry,  # folio_fleet_instances, folio_desired_instances, ... after every heartbeat
    )


def _bus(settings: Settings, valkey: ValkeyClient) -> ValkeyInvalidationBus:
    return ValkeyInvalidationBus(
        settings.valkey_url,
        valkey,
        heartbeat_s=settings.invalidation_heartbeat_ms / 1000,
        ack_timeout_s=settings.invalidation_ack_timeout_ms / 1000,
        connect_timeout_s=settings.cache_timeout_ms / 1000,
    )


def open_metrics(settings: Settings) -> Metrics:
    """This process's Prometheus metrics (multiprocess mode, see domain/adapters/prometheus.py), with the
    prices the cost alerts need; nothing at all when METRICS is false."""
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


def _sample_metrics(
    settings: Settings,
    metrics: Metrics,
    pool: Pool,
    valkey: ValkeyClient,
    host: HostMetrics,
    role: str,
    stack: contextlib.AsyncExitStack,
) -> None:
    """Publish every second with the pool's state and the host's load; web processes add the reports'."""
    if not settings.metrics:
        return
    stack.callback(metrics.watch(partial(report_pool, pool, metrics)))
    stack.callback(metrics.watch(lambda: metrics.host(host.cpu_percent(), host.memory_percent())))
    stack.push_async_callback(_cancel, asyncio.create_task(metrics.run(), name="metrics"))
    if role == "web":
        backlog = ValkeyQueueBacklog(valkey, REPORTS_QUEUE)
        sampler = ReportTelemetry(PostgresReportStatistics(pool), backlog, metrics, interval_s=REPORT_METRICS_S)
        stack.push_async_callback(_cancel, asyncio.create_task(sampler.run(), name="report-metrics"))


def _portfolios(
    settings: Settings, pool: Pool, valkey: ValkeyClient, book: QuoteBook, metrics: Metrics
) -> PortfolioService:
    """Holdings behind two cache levels: in process (unless LOCAL_CACHE is off), then Valkey.

    PORTFOLIO_CACHE=off reads every portfolio from PostgreSQL (the cold figures in `make bench`).
    """
    repository = PostgresHoldingsRepository(pool)
    if not settings.portfolio_cache:
        return PortfolioService(repository, book.current)
    breaker = CircuitBreaker(
        "cache", failures=settings.cache_breaker_failures, reset_s=settings.cache_breaker_reset_s, metrics=metrics
    )
    cache = ValkeyHoldingsCache(
        valkey, breaker, ttl_s=settings.redis_cache_ttl, fill_wait_s=settings.cache_fill_wait_ms / 1000
    )
    return PortfolioService(
        repository,
        book.current,
        cache=cache,
        bus=_bus(settings, valkey) if settings.local_cache else None,
        local_ttl_s=settings.redis_cache_ttl,
        local_max_entries=settings.local_cache_max_entries,
        metrics=metrics if settings.metrics else None,
    )


def _rate_limits(settings: Settings, valkey: ValkeyClient, metrics: Metrics) -> RateLimiter:
    breaker = CircuitBreaker(
        "rate-limit store",
        failures=settings.cache_breaker_failures,
        reset_s=settings.cache_breaker_reset_s,
        metrics=metrics,
    )
    return RateLimiter(
        ValkeyRateLimitStore(valkey, breaker),
        sync_s=settings.rate_limit_sync_ms / 1000,
        overshoot_pct=settings.rate_limit_overshoot_pct,
        max_keys=settings.rate_limit_max_keys,
    )


async def _reports(
    settings: Settings,
    pool: Pool,
    valkey: ValkeyClient,
    book: QuoteBook,
    role: str,
    stack: contextlib.AsyncExitStack,
    metrics: Metrics | None = None,
) -> ReportService:
    """Web processes request and read reports; workers also run them and sweep for stale ones."""
    queue = ValkeyReportQueue(
        valkey,
        queue_name=REPORTS_QUEUE,
        actor_name=GENERATE_REPORT_ACTOR,
        heartbeat_timeout_ms=settings.broker_heartbeat_timeout_ms,
    )
    policy = ReportPolicy(
        deadline_s=settings.report_deadline_s,
        max_attempts=settings.report_max_attempts,
        history_days=settings.report_history_days,
        risk_free_rate=settings.risk_free_rate,
        estimate_s=settings.report_estimate_s,
        base_currency=settings.base_currency,
    )
    if role != "worker":
        return ReportService(PostgresReportRepository(pool), queue, None, policy)

    async def current_snapshot() -> QuoteSnapshot:
        await book.refresh()
        return book.current()

    if not settings.smtp_url:
        raise RuntimeError("SMTP_URL must be set for the worker (make run starts an SMTP sink)")
    tools = ReportTools(
        holdings=PostgresHoldingsRepository(pool),
        quotes=PostgresQuoteRepository(pool),
        snapshot=current_snapshot,
        renderer=ReportlabRenderer(),
        mailer=SmtpMailer(settings.smtp_url, sender=settings.mail_from, timeout_s=settings.smtp_timeout_s),
        metrics=metrics,
    )
    service = ReportService(PostgresReportRepository(pool), queue, tools, policy)
    await asyncio.to_thread(warm_up)  # the first report should not pay for importing matplotlib
    sweeper = asyncio.create_task(service.sweep_forever(settings.report_sweep_interval_s), name="report-sweeper")
    stack.push_async_callback(_cancel, sweeper)
    return service


async def _first_snapshot(book: QuoteBook) -> None:
    # A database that is down at start is not fatal: the follower keeps trying and readiness says so.
    try:
        await book.refresh()
    except UnavailableError:
        log.warning("quotes not loaded at start: the database is not answering")


async def _cancel(task: asyncio.Task[None]) -> None:
    """Stop a background task; a task that does not stop in time must not hang the shutdown."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=TASK_STOP_TIMEOUT_S)
    if not done:
        log.warning("background task %s did not stop within %ss", task.get_name(), TASK_STOP_TIMEOUT_S)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("background task %s had failed: %r", task.get_name(), task.exception())


def build_broker(settings: Settings) -> Broker:
    """The Dramatiq broker, for the worker (and, through a port, for the web's enqueues)."""
    return _build_broker(
        settings.valkey_url,
        socket_timeout_s=BROKER_TIMEOUT_S,
        heartbeat_timeout_ms=settings.broker_heartbeat_timeout_ms,
    )
