"""The daily-values command's composition: a small pool of its own, for `python -m cli daily-values`."""

import asyncio

from config.settings import Settings, SettingsError
from config.wiring.resources import pool_config
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.daily_values import PostgresDailyValues
from domain.adapters.postgres.pool import open_pool


async def _fill(settings: Settings) -> int:
    config = pool_config(settings, "folio-daily-values")
    config.min_size, config.max_size = 1, 1
    # A command, not a request: it may wait for its connection; each batch has the close job's deadline.
    config.timeout = max(config.timeout, 30.0)
    pool = await open_pool(config, NullMetrics())
    try:
        return await PostgresDailyValues(
            pool, settings.base_currency, deadline_s=settings.daily_values_deadline_s
        ).fill()
    finally:
        await pool.close()


def fill_daily_values(settings: Settings) -> int:
    """Store every user's daily values up to today that are not stored yet (what the close job does each day)."""
    if not settings.database_url:
        raise SettingsError("DATABASE_URL is not set (make run sets it to an embedded PostgreSQL)")
    return asyncio.run(_fill(settings))
