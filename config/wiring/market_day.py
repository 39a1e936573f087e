"""The market day's composition: the jobs the worker runs, and the `clock` process that sends them."""

import contextlib
from collections.abc import AsyncIterator

import msgspec

from config.queues import DAILY_JOB_ACTORS, MARKET_QUEUE
from config.settings import Settings
from config.wiring.background import run_in_background
from config.wiring.reports import build_broker
from config.wiring.resources import Resources, open_resources
from domain.adapters.breaker import CircuitBreaker
from domain.adapters.daily_jobs_queue import DramatiqDailyJobQueue
from domain.adapters.postgres.corporate_actions import PostgresCorporateActionStore
from domain.adapters.postgres.daily_values import PostgresDailyValues
from domain.adapters.postgres.holdings import PostgresHoldingsRepository
from domain.adapters.postgres.market_day import PostgresMarketDayStore
from domain.adapters.postgres.quotes import PostgresQuoteRepository
from domain.adapters.valkey_bus import ValkeyInvalidationBus
from domain.adapters.valkey_cache import ValkeyHoldingsCache
from domain.adapters.valkey_quote_bus import ValkeyQuoteVersionBus
from domain.models.market_day import DAILY_JOBS, parse_close_time
from domain.services.corporate_actions import CorporateActionService
from domain.services.market_data import QuoteBook
from domain.services.market_day import MarketClock, MarketDayJobs
from domain.services.portfolios import PortfolioService

CLOCK_POOL_SIZE = 2


def market_day_jobs(resources: Resources) -> MarketDayJobs:
    """For the worker's actors."""
    settings = resources.settings
    return MarketDayJobs(
        PostgresMarketDayStore(resources.pool),
        ValkeyQuoteVersionBus(resources.pubsub),
        resources.clock,
        retention_days=settings.report_retention_days,
        daily_values=PostgresDailyValues(
            resources.pool, settings.base_currency, deadline_s=settings.daily_values_deadline_s
        ),
    )


def corporate_action_jobs(resources: Resources, stack: contextlib.AsyncExitStack) -> CorporateActionService:
    """For the worker's actor: its changes drop the users' holdings from the shared cache and from every
    process's local copy (the worker listens on the invalidation bus, so its broadcasts are acknowledged)."""
    settings = resources.settings
    bus = ValkeyInvalidationBus(
        resources.pubsub,
        heartbeat_s=settings.invalidation_heartbeat_ms / 1000,
        ack_timeout_s=settings.invalidation_ack_timeout_ms / 1000,
    )
    breaker = CircuitBreaker(
        "cache",
        failures=settings.cache_breaker_failures,
        reset_s=settings.cache_breaker_reset_s,
        metrics=resources.metrics,
    )
    cache = ValkeyHoldingsCache(resources.valkey, breaker, ttl_s=settings.redis_cache_ttl)
    book = QuoteBook(PostgresQuoteRepository(resources.pool), settings.base_currency)  # never read: only invalidates
    portfolios = PortfolioService(
        PostgresHoldingsRepository(resources.pool),
        book.current,
        cache=cache if settings.portfolio_cache else None,
        bus=bus if settings.local_cache else None,
        metrics=resources.metrics,
    )
    if settings.local_cache:
        run_in_background(stack, portfolios.listen(), "invalidations")
    return CorporateActionService(
        PostgresCorporateActionStore(resources.pool),
        portfolios.invalidate,
        ValkeyQuoteVersionBus(resources.pubsub),
    )


@contextlib.asynccontextmanager
async def open_clock(settings: Settings) -> AsyncIterator[MarketClock]:
    """The clock process's one use case, with its pool and the broker it sends on."""
    async with contextlib.AsyncExitStack() as stack:
        # A few statements a day: two connections, not a web process's pool.
        small = msgspec.structs.replace(settings, database_pool_size=CLOCK_POOL_SIZE, max_overflow=0)
        resources = await open_resources(small, "clock", stack)
        broker = build_broker(settings)
        stack.callback(broker.close)
        yield MarketClock(
            PostgresMarketDayStore(resources.pool),
            DramatiqDailyJobQueue(broker, queue_name=MARKET_QUEUE, actors=DAILY_JOB_ACTORS),
            resources.clock,
            jobs=DAILY_JOBS,
            close_at=parse_close_time(settings.market_close_utc),
            catch_up_days=settings.market_catch_up_days,
        )
