"""`python -m cli clock`: the market day's clock (the Procfile's `clock`, one process per deployment).

At MARKET_CLOSE_UTC every day it sends the day's jobs (the close, report retention) to the workers, and on
start the days it missed while it was down. It only sends: the workers run the jobs, once per (job, day)
however often they are sent, so a second clock or a restart does no harm. APScheduler keeps the time: a
cron trigger in UTC, with a grace period so that a late wake-up (a suspended machine) still fires once.
"""

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, time

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from config.logs import configure_logging
from config.settings import Settings
from config.wiring.market_day import open_clock
from domain.errors import UnavailableError
from domain.models.market_day import parse_close_time

log = logging.getLogger("folio.clock")
RETRY_S = 30.0  # the database or Valkey not answering: try again this often until the jobs are sent
CLOSE_JOB_ID = "market-close"
MISFIRE_GRACE_S = 3600  # a close noticed up to an hour late still runs (later: the next start catches up)


async def _until_sent(send: Callable[[], Awaitable[object]], what: str) -> None:
    while True:
        try:
            await send()
        except UnavailableError as e:
            log.warning("%s: %s; trying again in %gs", what, e.detail, RETRY_S)
            await asyncio.sleep(RETRY_S)
        else:
            return


def schedule_close(scheduler: AsyncIOScheduler, send: Callable[[], Awaitable[object]], close_at: time) -> Job:
    """Every day at `close_at` UTC, `send` on the scheduler's event loop (retried until it succeeds)."""
    return scheduler.add_job(
        _until_sent,
        CronTrigger(hour=close_at.hour, minute=close_at.minute, timezone=UTC),
        args=(send, "market close"),
        id=CLOSE_JOB_ID,
        name="market close",
        coalesce=True,  # several missed firings (a long suspend) run once
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_S,
    )


async def _run(settings: Settings) -> None:
    async with open_clock(settings) as clock:
        scheduler = AsyncIOScheduler(timezone=UTC)
        schedule_close(scheduler, clock.at_close, parse_close_time(settings.market_close_utc))
        scheduler.start()
        try:
            print(f"clock: the market closes at {settings.market_close_utc} UTC every day", flush=True)
            await _until_sent(clock.catch_up, "catch-up")
            await asyncio.Event().wait()  # until cancelled by a stop signal
        finally:
            scheduler.shutdown(wait=False)


async def _until_stopped(settings: Settings) -> None:
    task = asyncio.create_task(_run(settings))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(settings: Settings) -> int:
    if not settings.database_url or not (settings.valkey_url or settings.valkey_cluster_nodes):
        print(
            "error: DATABASE_URL and VALKEY_URL (or VALKEY_CLUSTER_URLS) must be set (make run sets them)",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_level)
    asyncio.run(_until_stopped(settings))
    return 0
