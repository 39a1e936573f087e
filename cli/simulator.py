"""`python -m cli simulate`: the development quote feed (the Procfile's `simulator`, scaled to 0 in production)."""

import asyncio
import contextlib
import random
import signal
import sys

from config.logs import configure_logging
from config.settings import Settings
from config.wiring.feed import open_quote_feed
from domain.errors import UnavailableError
from domain.services.quote_simulator import QuoteSimulator


async def _simulate(settings: Settings, *, interval_s: float, fraction: float, seed: int | None) -> None:
    async with open_quote_feed(settings) as market_data:
        simulator = QuoteSimulator(market_data, rng=random.Random(seed), fraction=fraction)
        while True:
            try:
                await simulator.run(interval_s)
            except UnavailableError as e:
                print(f"simulator: {e.detail}; retrying", file=sys.stderr, flush=True)
                await asyncio.sleep(interval_s)


async def _until_stopped(settings: Settings, *, interval_s: float, fraction: float, seed: int | None) -> None:
    task = asyncio.create_task(_simulate(settings, interval_s=interval_s, fraction=fraction, seed=seed))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(settings: Settings, *, interval_s: float, fraction: float, seed: int | None, allow_production: bool) -> int:
    if settings.environment == "production" and not allow_production:
        print("error: the simulator writes fake prices; it does not run in production", file=sys.stderr)
        return 2
    if not settings.database_url or not (settings.valkey_url or settings.valkey_cluster_nodes):
        print(
            "error: DATABASE_URL and VALKEY_URL (or VALKEY_CLUSTER_URLS) must be set (make run sets them)",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_level)
    print(f"simulator: moving {fraction:.0%} of prices every {interval_s:g}s", flush=True)
    asyncio.run(_until_stopped(settings, interval_s=interval_s, fraction=fraction, seed=seed))
    return 0
