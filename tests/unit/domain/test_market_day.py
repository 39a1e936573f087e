"""The market day with the twins: which days a clock owes, catch-up after downtime, repeats that do nothing."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import msgspec
import pytest

from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.daily_values import InMemoryDailyValues
from domain.adapters.memory.market_day import InMemoryDailyJobQueue, InMemoryMarketDayStore
from domain.adapters.memory.quotes import InMemoryQuoteRepository, InMemoryQuoteVersionBus
from domain.adapters.memory.reports import InMemoryReportRepository
from domain.models.market_day import (
    CLOSE_JOB,
    DAILY_JOBS,
    MARKET_CLOSE,
    RETENTION_JOB,
    latest_due_day,
    owed_days,
    parse_close_time,
)
from domain.models.quotes import Instrument, Quote
from domain.services.market_day import MarketClock, MarketDayJobs

CLOSE_AT = time(21, 0)
# The jobs the twin store runs (DAILY_JOBS also has the corporate actions, which have no twin yet).
TWIN_JOBS = (CLOSE_JOB, RETENTION_JOB)
MONDAY = date(2026, 11, 2)
AFTER_CLOSE = datetime(2026, 11, 2, 21, 0, 5, tzinfo=UTC)


def quote(iid: int, price: str, previous_close: str) -> Quote:
    p = Decimal(price)
    return Quote(
        instrument_id=iid, price=p, bid=p, ask=p, previous_close=Decimal(previous_close), day_high=p + 1,
        day_low=p - 1, volume=500, as_of=AFTER_CLOSE,
    )  # fmt: skip


class Market:
    def __init__(self, now: datetime = AFTER_CLOSE) -> None:
        self.clock = FixedClock(now)
        self.quotes = InMemoryQuoteRepository(self.clock)
        for iid in (1, 2):
            self.quotes.instruments[iid] = Instrument(
                id=iid, symbol=f"S{iid}", name=f"S{iid}", asset_class="equity", currency="USD", exchange="X"
            )
        self.quotes.publish(quote(1, "110", "100"), quote(2, "45", "50"))
        self.reports = InMemoryReportRepository({7: ("ada@example.com", "Ada")}, self.clock)
        self.store = InMemoryMarketDayStore(self.quotes, self.reports)
        self.bus = InMemoryQuoteVersionBus()
        self.daily_values = InMemoryDailyValues()
        self.jobs = MarketDayJobs(self.store, self.bus, self.clock, retention_days=30, daily_values=self.daily_values)
        self.queue = InMemoryDailyJobQueue(TWIN_JOBS)
        self.market_clock = MarketClock(
            self.store, self.queue, self.clock, jobs=TWIN_JOBS, close_at=CLOSE_AT, catch_up_days=7
        )

    async def deliver(self) -> None:
        """Run every sent message, as a worker would (in order)."""
        run = {CLOSE_JOB: self.jobs.close, RETENTION_JOB: self.jobs.retain_reports}
        for job, day in self.queue.sent:
            await run[job](day)


def test_the_latest_due_day_is_today_only_after_the_close():
    assert latest_due_day(datetime(2026, 11, 2, 20, 59, 59, tzinfo=UTC), CLOSE_AT) == MONDAY - timedelta(days=1)
    assert latest_due_day(datetime(2026, 11, 2, 21, 0, tzinfo=UTC), CLOSE_AT) == MONDAY


def test_owed_days_run_from_the_day_after_the_last_run_and_are_capped():
    assert owed_days(MONDAY - timedelta(days=3), MONDAY, 7) == tuple(MONDAY - timedelta(days=d) for d in (2, 1, 0))
    assert owed_days(MONDAY, MONDAY, 7) == ()
    assert owed_days(MONDAY - timedelta(days=30), MONDAY, 2) == (MONDAY - timedelta(days=1), MONDAY)
    assert owed_days(None, MONDAY, 7) == (MONDAY,)


def test_the_close_time_reads_as_hours_and_minutes():
    assert parse_close_time("21:30") == time(21, 30)
    assert parse_close_time("00:05") == time(0, 5)


async def test_a_close_records_the_last_prices_and_starts_the_next_day():
    market = Market()
    closed = await market.jobs.close(MONDAY)
    assert closed is not None
    assert closed.closes == 2
    assert market.bus.announced == [closed.version]
    snapshot = await market.quotes.load_snapshot("USD")
    assert snapshot.version == closed.version
    one = snapshot.quotes[1]
    assert (one.previous_close, one.day_high, one.day_low, one.volume) == (Decimal(110), Decimal(110), Decimal(110), 0)
    assert [(c.day, c.close) for c in await market.quotes.daily_closes(2, 5)] == [(MONDAY, Decimal(45))]
    assert [r.action for r in market.quotes.audit.records] == [MARKET_CLOSE]


async def test_a_close_delivered_twice_changes_nothing_the_second_time():
    market = Market()
    await market.jobs.close(MONDAY)
    version = market.quotes.version
    assert await market.jobs.close(MONDAY) is None
    assert market.quotes.version == version
    assert len(market.quotes.audit.records) == 1


async def test_a_clock_down_for_three_days_catches_up_three_closes_once_each():
    market = Market()
    for job in DAILY_JOBS:
        market.store.runs[job, MONDAY - timedelta(days=3)] = 0  # the last day before the clock stopped
    sent = await market.market_clock.catch_up()
    owed = [MONDAY - timedelta(days=d) for d in (2, 1, 0)]
    assert sent == [(CLOSE_JOB, day) for day in owed] + [(RETENTION_JOB, day) for day in owed]
    market.queue.sent *= 2  # every message delivered twice
    await market.deliver()
    closed = sorted(day for job, day in market.store.runs if job == CLOSE_JOB)
    assert closed == [MONDAY - timedelta(days=3), *owed]
    assert [c.day for c in await market.quotes.daily_closes(1, 10)] == owed
    assert sum(r.action == MARKET_CLOSE for r in market.quotes.audit.records) == 3


async def test_a_job_that_never_ran_waits_for_the_close_rather_than_catching_up():
    market = Market()
    assert await market.market_clock.catch_up() == []
    assert await market.market_clock.at_close() == [(CLOSE_JOB, MONDAY), (RETENTION_JOB, MONDAY)]


async def test_at_the_close_a_day_already_sent_and_run_is_not_sent_again():
    market = Market()
    await market.market_clock.at_close()
    await market.deliver()
    assert await market.market_clock.at_close() == []


@pytest.mark.parametrize(("age_days", "status", "kept"), [(31, "succeeded", False), (31, "failed", False),
                                                          (29, "succeeded", True), (31, "running", True)])  # fmt: skip
async def test_retention_deletes_only_finished_reports_older_than_the_period(age_days, status, kept):
    market = Market()
    market.clock.current = AFTER_CLOSE - timedelta(days=age_days)
    report = (await market.reports.create(7, "key", 60)).report
    market.reports.rows[report.id] = msgspec.structs.replace(report, status=status)
    market.reports.documents[report.id] = b"%PDF"
    market.clock.current = AFTER_CLOSE
    deleted = await market.jobs.retain_reports(MONDAY)
    assert deleted == (0 if kept else 1)
    assert (report.id in market.reports.rows) is kept
    assert (report.id in market.reports.documents) is kept
    assert await market.jobs.retain_reports(MONDAY) is None


async def test_every_close_delivery_stores_every_users_daily_values_and_a_failed_store_fails_not_the_close():
    market = Market()
    assert await market.jobs.close(MONDAY) is not None
    assert await market.jobs.close(MONDAY) is None  # a repeat: stores whatever the first could not
    assert market.daily_values.fills == [None, None]  # None: every user (whose days were read before)
    assert market.daily_values.readers_only == [True, True]
    market.daily_values.failing = True
    closed = await market.jobs.close(MONDAY + timedelta(days=1))
    assert closed is not None
    assert market.bus.announced[-1] == closed.version
