"""The development quote feed's composition: the ingest use case, as the operator endpoint drives it."""

import contextlib
from collections.abc import AsyncIterator

from config.settings import Settings
from config.wiring.resources import open_resources
from domain.adapters.postgres.quotes import PostgresQuoteRepository
from domain.adapters.valkey_quote_bus import ValkeyQuoteVersionBus
from domain.services.market_data import MarketDataService, QuoteBook


@contextlib.asynccontextmanager
async def open_quote_feed(settings: Settings) -> AsyncIterator[MarketDataService]:
    """Market data with its own book, publishing each batch as a version every process hears of."""
    async with contextlib.AsyncExitStack() as stack:
        resources = await open_resources(settings, "feed", stack)
        repository = PostgresQuoteRepository(resources.pool)
        yield MarketDataService(
            QuoteBook(repository, settings.base_currency),
            repository,
            ValkeyQuoteVersionBus(resources.pubsub),
            max_batch=settings.quote_batch_max,
        )
