"""The composition root: every pool, client and service is built here, once, for web and worker."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from dramatiq import Broker

from config.settings import Settings
from domain.adapters.host_metrics import PsutilHostMetrics
from domain.adapters.postgres.holdings import PostgresHoldingsRepository
from domain.adapters.postgres.pool import PoolConfig, PostgresProbe, open_pool
from domain.adapters.postgres.quotes import PostgresQuoteRepository
from domain.adapters.reports_queue import build_broker as _build_broker
from domain.adapters.valkey import ValkeyProbe, open_valkey
from domain.errors import UnavailableError
from domain.services.health import HealthService
from domain.services.market_data import QuoteBook
from domain.services.portfolios import PortfolioService

log = logging.getLogger("folio.wiring")

QUOTE_POLL_S = 0.5
BROKER_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Services:
    """Ready use-case objects, handed to the gateway and the actors."""

    settings: Settings
    portfolios: PortfolioService
    quotes: QuoteBook
    health: HealthService


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
        name=name,
    )


@contextlib.asynccontextmanager
async def open_services(settings: Settings, *, role: str = "web") -> AsyncIterator[Services]:
    """Open every resource, yield the services, and close everything on the way out."""
    if not settings.database_url or not settings.valkey_url:
        raise RuntimeError("DATABASE_URL and VALKEY_URL must be set (make run starts embedded servers)")
    async with contextlib.AsyncExitStack() as stack:
        pool = await open_pool(pool_config(settings, f"folio-{role}"))
        stack.push_async_callback(pool.close)
        valkey = open_valkey(
            settings.valkey_url,
            max_connections=settings.redis_max_connections,
            timeout_s=settings.cache_timeout_ms / 1000,
        )
        stack.push_async_callback(valkey.aclose)
        metrics = PsutilHostMetrics(settings.health_sample_interval_s)
        metrics.start()
        stack.callback(metrics.stop)
        book = QuoteBook(PostgresQuoteRepository(pool), settings.base_currency)
        if role == "web":
            await _first_snapshot(book)
            stack.push_async_callback(_cancel, asyncio.create_task(_follow_quotes(book), name="quote-follower"))
        yield Services(
            settings=settings,
            portfolios=PortfolioService(PostgresHoldingsRepository(pool), book.current),
            quotes=book,
            health=HealthService(
                metrics,
                # The broker lives on the same Valkey as the cache; each gets its own readiness line.
                [PostgresProbe(pool), ValkeyProbe("cache", valkey), ValkeyProbe("broker", valkey)],
                cpu_target=settings.auto_scale_target_cpu,
                cpu_low=settings.auto_scale_low_cpu,
            ),
        )


async def _first_snapshot(book: QuoteBook) -> None:
    # A database that is down at start is not fatal: the follower keeps trying and readiness says so.
    try:
        await book.refresh()
    except UnavailableError:
        log.warning("quotes not loaded at start: the database is not answering")


async def _follow_quotes(book: QuoteBook) -> None:
    while True:
        await asyncio.sleep(QUOTE_POLL_S)
        try:
            await book.refresh()
        except UnavailableError:
            log.warning("quote refresh failed: the database is not answering")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_broker(settings: Settings) -> Broker:
    """The Dramatiq broker, for the worker (and, through a port, for the web's enqueues)."""
    return _build_broker(settings.valkey_url, socket_timeout_s=BROKER_TIMEOUT_S)
