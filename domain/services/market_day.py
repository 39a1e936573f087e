"""The market day: the jobs a worker runs once per day (the close, report retention), and the clock's side,
which works out the days each job is owed and hands them to the workers.

How to add a job (the dividends-due hook, say): name it in `domain.models.market_day` and add it to
`DAILY_JOBS`; give `MarketDayStore` a method that claims the (job, day) run in the job's own transaction;
add a method here that calls it; add an actor in `tasks.actors` and its name in `config.queues.DAILY_JOB_ACTORS`.
The clock then sends it every day, and catches it up like the others.
"""

import logging
from datetime import date, time, timedelta

from domain.errors import UnavailableError
from domain.models.audit import Actor, AuditEntry
from domain.models.market_day import (
    MARKET_CLOSE,
    REPORTS_PURGE,
    ClosedDay,
    latest_due_day,
    market_day_target,
    owed_days,
)
from domain.ports.clock import Clock
from domain.ports.daily_values import DailyValueStore
from domain.ports.market_day import DailyJobQueue, MarketDayStore
from domain.ports.quotes import QuoteVersionBus

log = logging.getLogger("folio.market_day")
MARKET_DAY_ACTOR = Actor(name="system:market-day")


class MarketDayJobs:
    """What the worker's actors call: each job for one day, at most once (a repeat returns None)."""

    def __init__(
        self,
        store: MarketDayStore,
        bus: QuoteVersionBus,
        clock: Clock,
        *,
        retention_days: int,
        daily_values: DailyValueStore | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._retention = timedelta(days=retention_days)
        self._daily_values = daily_values

    async def close(self, day: date) -> ClosedDay | None:
        """Record `day`'s closes and start the next day; tell every process of the new quote version; then
        store every user's daily values up to today (also on a repeat: a delivery whose fill failed is sent
        again, and a fill with nothing left to do does nothing)."""
        audit = AuditEntry.by(MARKET_DAY_ACTOR, MARKET_CLOSE, market_day_target(day))
        closed = await self._store.close_day(day, audit=audit)
        if closed is None:
            log.info("close of %s: already done", day)
        else:
            await self._bus.announce(closed.version)
            log.info("close of %s: %d closes recorded (version %d)", day, closed.closes, closed.version)
        await self._store_daily_values(day)
        return closed

    async def _store_daily_values(self, day: date) -> None:
        if self._daily_values is None:
            return
        try:
            users = await self._daily_values.fill(readers_only=True)
        except UnavailableError:
            # Not the close's failure: the closes are recorded, and a read computes (and stores) what is missing.
            log.warning("close of %s: daily values not stored now; each user's are stored on its next read", day)
            return
        log.info("close of %s: daily values stored for %d users", day, users)

    async def retain_reports(self, day: date) -> int | None:
        """Delete the finished reports older than the retention period (counted back from now)."""
        before = self._clock.now() - self._retention
        audit = AuditEntry.by(MARKET_DAY_ACTOR, REPORTS_PURGE, market_day_target(day))
        deleted = await self._store.purge_reports(day, before=before, audit=audit)
        log.info("report retention of %s: %s", day, "already done" if deleted is None else f"{deleted} deleted")
        return deleted


class MarketClock:
    """Sends each job the days it is owed: at the close every day, and on start for the days it missed."""

    def __init__(
        self,
        store: MarketDayStore,
        queue: DailyJobQueue,
        clock: Clock,
        *,
        jobs: tuple[str, ...],
        close_at: time,
        catch_up_days: int,
    ) -> None:
        self._store = store
        self._queue = queue
        self._clock = clock
        self._jobs = jobs
        self._close_at = close_at
        self._limit = catch_up_days

    async def catch_up(self) -> list[tuple[str, date]]:
        """On start: send each job that has run before the days since its last run (a job that never ran
        waits for the next close: a new deployment does not invent a history)."""
        return await self._send(only_run_before=True)

    async def at_close(self) -> list[tuple[str, date]]:
        """At the close: send every job today (and any day it still owes)."""
        return await self._send(only_run_before=False)

    async def _send(self, *, only_run_before: bool) -> list[tuple[str, date]]:
        latest = latest_due_day(self._clock.now(), self._close_at)
        sent: list[tuple[str, date]] = []
        for job in self._jobs:
            last = await self._store.last_run(job)
            if last is None and only_run_before:
                continue
            for day in owed_days(last, latest, self._limit):
                await self._queue.send(job, day)
                sent.append((job, day))
        if sent:
            log.info("sent %s", ", ".join(f"{job} {day}" for job, day in sent))
        return sent
