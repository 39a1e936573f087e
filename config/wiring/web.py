"""The web role's composition: what the gateway's lifespan opens for one Granian worker process."""

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

from config.scaling import web_scaling_policy
from config.settings import Settings
from config.wiring.background import run_in_background
from config.wiring.credentials import open_credentials
from config.wiring.fleet import join_fleet
from config.wiring.identity import open_identity
from config.wiring.reports import broker_probe, queue_backlogs, report_backlog, report_policy, report_queue
from config.wiring.resources import Resources, open_resources
from config.wiring.streams import open_streams
from config.wiring.webhooks import webhook_service
from domain.adapters.breaker import CircuitBreaker
from domain.adapters.postgres.audit import PostgresAuditLog
from domain.adapters.postgres.corporate_actions import PostgresCorporateActionStore
from domain.adapters.postgres.credentials import PostgresApiKeyStore
from domain.adapters.postgres.holdings import PostgresHoldingsRepository
from domain.adapters.postgres.ledger import PostgresLedger
from domain.adapters.postgres.performance import PostgresValueHistory
from domain.adapters.postgres.pool import PostgresProbe
from domain.adapters.postgres.quotes import PostgresQuoteRepository
from domain.adapters.postgres.report_control import PostgresReportControl
from domain.adapters.postgres.report_stats import PostgresReportStatistics
from domain.adapters.postgres.reports import PostgresReportRepository
from domain.adapters.postgres.trades import PostgresTradeStore
from domain.adapters.postgres.users import PostgresUserStore
from domain.adapters.prometheus_history import PrometheusHistory
from domain.adapters.valkey import ValkeyProbe
from domain.adapters.valkey_bus import ValkeyInvalidationBus
from domain.adapters.valkey_cache import ValkeyHoldingsCache
from domain.adapters.valkey_quote_bus import ValkeyQuoteVersionBus
from domain.adapters.valkey_rate_limit import ValkeyRateLimitStore
from domain.adapters.valkey_slow_requests import ValkeySlowRequestLog
from domain.errors import UnavailableError
from domain.models.ledger import FeePolicy
from domain.ports.fleet import QueueBacklog
from domain.ports.identity import ExternalTokens, OperatorSignIn
from domain.ports.metric_history import MetricHistory
from domain.ports.metrics import Metrics
from domain.ports.slow_requests import SlowRequestLog
from domain.services.api_keys import ApiKeyService
from domain.services.audit import AuditTrail, ReadRecorder
from domain.services.corporate_actions import CorporateActionService
from domain.services.export import ExportService
from domain.services.fleet import FleetService
from domain.services.health import HealthService
from domain.services.invalidations import InvalidationConsumer, listen_for_invalidations
from domain.services.ledger import LedgerService
from domain.services.market_data import MarketDataService, QuoteBook, QuoteFollower
from domain.services.performance import CACHED_REPORTS, PerformanceService
from domain.services.portfolios import PortfolioService
from domain.services.rate_limits import RateLimiter
from domain.services.reports.desk import ReportDesk
from domain.services.reports.operations import ReportOperations
from domain.services.revocations import RevocationWatch
from domain.services.sign_in import ExternalSignIn
from domain.services.streams.hub import PortfolioStreams
from domain.services.streams.wire import JsonPortfolioWire
from domain.services.telemetry import ReportTelemetry
from domain.services.trade_imports import TradeImportService
from domain.services.trades import TradePolicy, TradeService
from domain.services.users import UserService
from domain.services.webhooks import WebhookService

log = logging.getLogger("folio.wiring")

QUOTE_POLL_S = 0.5  # the fallback when the version announcements over Valkey do not arrive
REPORT_METRICS_S = 15.0  # report rows and queue, sampled by each web process


@dataclass(frozen=True, slots=True)
class WebServices:
    """Ready use-case objects for the gateway's handlers and ASGI layers."""

    settings: Settings
    portfolios: PortfolioService
    streams: PortfolioStreams
    trades: TradeService
    trade_imports: TradeImportService
    ledger: LedgerService
    corporate_actions: CorporateActionService
    performance: PerformanceService
    quotes: QuoteBook
    market_data: MarketDataService
    reports: ReportDesk
    report_ops: ReportOperations  # the console's dead letters, batch requeue, cancel, pause
    queue_backlogs: dict[str, QueueBacklog]  # each queue's waiting messages, for the console
    slow_requests: SlowRequestLog  # the last slow requests of every process, for the console
    history: MetricHistory | None  # the console's hour from Prometheus (PROMETHEUS_URL); None = its own ring
    health: HealthService
    fleet: FleetService
    rate_limits: RateLimiter | None  # None when RATE_LIMIT is off
    metrics: Metrics
    api_keys: ApiKeyService
    revocations: RevocationWatch
    users: UserService
    exports: ExportService
    audit: AuditTrail
    reads: ReadRecorder  # operators' reads of users' data, appended to the audit log in batches
    webhooks: WebhookService
    external_tokens: ExternalTokens | None = None  # None unless OIDC_ISSUER is set
    sign_in: ExternalSignIn | None = None  # the users of the external tokens' subjects (with them)
    operator_sign_in: OperatorSignIn | None = None  # the console's sign-in through the provider (OIDC_CLIENT_ID)


@contextlib.asynccontextmanager
async def open_web(settings: Settings, portfolio_wire: JsonPortfolioWire | None = None) -> AsyncIterator[WebServices]:
    """Open every resource and background task of a web process; close them all on the way out.

    `portfolio_wire` is the wire form of a portfolio (the gateway's), used by the live streams."""
    async with contextlib.AsyncExitStack() as stack:
        resources = await open_resources(settings, "web", stack)
        book = await _follow_quotes(resources, stack)
        # One subscription per process carries every kind of invalidation: holdings and revocations.
        bus = _invalidation_bus(resources)
        portfolios = _portfolios(resources, book, bus)
        credentials = open_credentials(resources, bus, stack)
        streams = open_streams(resources, book, portfolios, portfolio_wire or JsonPortfolioWire(), stack)
        performance = PerformanceService(
            PostgresValueHistory(resources.pool, settings.base_currency),
            resources.clock,
            risk_free_rate=settings.risk_free_rate,
            cache_size=CACHED_REPORTS if settings.performance_cache else 0,
            bus=bus,
        )
        # The streams hear a change after the portfolio cache has dropped it, so they read the new holdings.
        consumers: list[InvalidationConsumer] = [portfolios, credentials.revocations, streams, performance]
        run_in_background(stack, listen_for_invalidations(bus, consumers), "invalidations")
        _sample_reports(resources, stack)
        user_store = PostgresUserStore(resources.pool)
        # Once an erasure commits, every process refuses the user's keys and tokens, and forgets its holdings.
        users = UserService(user_store, after_erase=[credentials.revocations.forget_user, portfolios.invalidate])
        trades = PostgresTradeStore(resources.pool, import_deadline_s=settings.trade_import_deadline_s)
        reports = PostgresReportRepository(resources.pool)
        audit = PostgresAuditLog(resources.pool)
        external, operator_sign_in = open_identity(settings, stack)
        yield WebServices(
            settings=settings,
            portfolios=portfolios,
            streams=streams,
            trades=(traded := TradeService(trades, portfolios.invalidate, quotes=book, policy=trade_policy(settings))),
            trade_imports=TradeImportService(
                trades,
                portfolios.invalidate,
                max_rows=settings.trade_import_max_rows,
                settlement=traded.import_settlement,
            ),
            ledger=LedgerService(PostgresLedger(resources.pool), portfolios.invalidate),
            corporate_actions=CorporateActionService(
                PostgresCorporateActionStore(resources.pool), portfolios.invalidate
            ),
            performance=performance,
            quotes=book,
            market_data=MarketDataService(
                book, PostgresQuoteRepository(resources.pool), _quote_bus(resources), max_batch=settings.quote_batch_max
            ),
            reports=ReportDesk(reports, report_queue(resources), report_policy(settings)),
            report_ops=ReportOperations(
                PostgresReportControl(resources.pool), reports, report_queue(resources), report_policy(settings)
            ),
            queue_backlogs=queue_backlogs(resources),
            slow_requests=ValkeySlowRequestLog(resources.valkey),
            history=await _prometheus_history(settings, stack),
            health=_health(resources, stack),
            fleet=join_fleet(resources, stack),
            rate_limits=_rate_limits(resources, stack),
            metrics=resources.metrics,
            api_keys=credentials.api_keys,
            revocations=credentials.revocations,
            external_tokens=external,
            sign_in=None if external is None else _sign_in(settings, users, user_store),
            operator_sign_in=operator_sign_in,
            users=users,
            exports=ExportService(
                users,
                PostgresHoldingsRepository(resources.pool),
                trades,
                reports,
                audit,
                PostgresApiKeyStore(resources.pool),
                PostgresLedger(resources.pool),
            ),
            audit=AuditTrail(audit),
            reads=_record_reads(resources, audit, stack),
            webhooks=webhook_service(resources, stack),
        )


def trade_policy(settings: Settings) -> TradePolicy:
    """How trades price and settle: TRADE_FEE_BPS, TRADE_FEE_MIN, AUTO_FX, TRADE_PRICE_POLICY and its tolerance."""
    return TradePolicy(
        fees=FeePolicy(bps=Decimal(settings.trade_fee_bps), minimum=settings.trade_fee_min),
        auto_fx=settings.auto_fx,
        price=settings.trade_price_policy,
        tolerance_bps=settings.trade_price_tolerance_bps,
    )


def _sign_in(settings: Settings, users: UserService, store: PostgresUserStore) -> ExternalSignIn:
    return ExternalSignIn(users, store, auto_provision=settings.oidc_auto_provision)


def _record_reads(resources: Resources, log: PostgresAuditLog, stack: contextlib.AsyncExitStack) -> ReadRecorder:
    """Operators' reads, appended every half second; what is left at shutdown is appended after the task stops."""
    reads = ReadRecorder(log, resources.clock)
    stack.push_async_callback(reads.flush)  # runs after the task below is cancelled (the stack unwinds in reverse)
    run_in_background(stack, reads.run(), "audit-reads")
    return reads


def _quote_bus(resources: Resources) -> ValkeyQuoteVersionBus:
    return ValkeyQuoteVersionBus(resources.pubsub)


async def _follow_quotes(resources: Resources, stack: contextlib.AsyncExitStack) -> QuoteBook:
    """The quote book, refreshed at once on each announced version, and polled when announcements fail."""
    book = QuoteBook(PostgresQuoteRepository(resources.pool), resources.settings.base_currency)
    try:
        await book.refresh()
    except UnavailableError:  # not fatal: the follower keeps trying, and readiness says so
        log.warning("quotes not loaded at start: the database is not answering")
    follower = QuoteFollower(book, QUOTE_POLL_S)
    run_in_background(stack, follower.run(), "quote-follower")
    run_in_background(stack, _quote_bus(resources).listen(follower.nudge), "quote-listener")
    return book


def _breaker(resources: Resources, name: str) -> CircuitBreaker:
    settings = resources.settings
    return CircuitBreaker(
        name,
        failures=settings.cache_breaker_failures,
        reset_s=settings.cache_breaker_reset_s,
        metrics=resources.metrics,
    )


def _portfolios(resources: Resources, book: QuoteBook, bus: ValkeyInvalidationBus) -> PortfolioService:
    """Holdings behind two cache levels: in process (unless LOCAL_CACHE is off), then Valkey.

    PORTFOLIO_CACHE=false reads every portfolio from PostgreSQL (the cold figures in `make bench`).
    """
    settings, metrics = resources.settings, resources.metrics
    repository = PostgresHoldingsRepository(resources.pool)
    if not settings.portfolio_cache:
        return PortfolioService(repository, book.current, metrics=metrics)
    cache = ValkeyHoldingsCache(
        resources.valkey,
        _breaker(resources, "cache"),
        ttl_s=settings.redis_cache_ttl,
        fill_wait_s=settings.cache_fill_wait_ms / 1000,
    )
    return PortfolioService(
        repository,
        book.current,
        cache=cache,
        bus=bus if settings.local_cache else None,
        local_ttl_s=settings.redis_cache_ttl,
        local_max_entries=settings.local_cache_max_entries,
        metrics=metrics,
    )


def _invalidation_bus(resources: Resources) -> ValkeyInvalidationBus:
    settings = resources.settings
    return ValkeyInvalidationBus(
        resources.pubsub,
        heartbeat_s=settings.invalidation_heartbeat_ms / 1000,
        ack_timeout_s=settings.invalidation_ack_timeout_ms / 1000,
    )


def _rate_limits(resources: Resources, stack: contextlib.AsyncExitStack) -> RateLimiter | None:
    settings = resources.settings
    if not settings.rate_limit:
        return None
    limiter = RateLimiter(
        ValkeyRateLimitStore(resources.valkey, _breaker(resources, "rate-limit store")),
        sync_s=settings.rate_limit_sync_ms / 1000,
        overshoot_pct=settings.rate_limit_overshoot_pct,
        max_keys=settings.rate_limit_max_keys,
        clock=resources.clock,
    )
    run_in_background(stack, limiter.run(), "rate-limit-sync")
    return limiter


def _health(resources: Resources, stack: contextlib.AsyncExitStack) -> HealthService:
    settings = resources.settings
    health = HealthService(
        resources.host,
        [PostgresProbe(resources.pool), ValkeyProbe("cache", resources.valkey), broker_probe(resources)],
        policy=web_scaling_policy(settings),
        clock=resources.clock,
        sample_interval_s=settings.health_sample_interval_s,
    )
    run_in_background(stack, health.sample_forever(), "health-sampler")
    return health


async def _prometheus_history(settings: Settings, stack: contextlib.AsyncExitStack) -> MetricHistory | None:
    """The console's history from Prometheus when PROMETHEUS_URL is set."""
    if not settings.prometheus_url:
        return None
    history = PrometheusHistory(settings.prometheus_url)
    stack.push_async_callback(history.aclose)
    return history


def _sample_reports(resources: Resources, stack: contextlib.AsyncExitStack) -> None:
    """Report rows per status and the queue's backlog, for the metrics (each web process samples)."""
    if not resources.metrics.enabled:
        return
    sampler = ReportTelemetry(
        PostgresReportStatistics(resources.pool),
        report_backlog(resources),
        resources.metrics,
        interval_s=REPORT_METRICS_S,
    )
    run_in_background(stack, sampler.run(), "report-metrics")
