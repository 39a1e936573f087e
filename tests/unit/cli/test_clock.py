"""The clock's schedule: APScheduler fires the close every day at MARKET_CLOSE_UTC, on the event loop."""

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from cli.clock import schedule_close
from config.queues import DAILY_JOB_ACTORS
from config.settings import SettingsError, load_settings
from domain.models.market_day import DAILY_JOBS


def test_the_close_is_due_next_at_the_configured_utc_time():
    scheduler = AsyncIOScheduler(timezone=UTC)
    job = schedule_close(scheduler, asyncio.sleep, time(21, 30))
    now = datetime(2026, 11, 2, 21, 30, 1, tzinfo=UTC)
    assert job.trigger.get_next_fire_time(None, now) == datetime(2026, 11, 3, 21, 30, tzinfo=UTC)
    assert job.trigger.get_next_fire_time(None, now - timedelta(seconds=2)) == datetime(2026, 11, 2, 21, 30, tzinfo=UTC)


async def test_a_due_close_runs_the_send_on_the_event_loop():
    sent = asyncio.Event()

    async def send() -> None:
        sent.set()

    scheduler = AsyncIOScheduler(timezone=UTC)
    job = schedule_close(scheduler, send, time(21, 0))
    scheduler.start()
    try:
        job.modify(next_run_time=datetime.now(UTC))  # as if the close time had come
        await asyncio.wait_for(sent.wait(), 5)
    finally:
        scheduler.shutdown(wait=False)


@pytest.mark.parametrize("bad", ["9:00", "24:00", "21:60", "21.00", "noon"])
def test_a_malformed_close_time_is_refused_naming_the_variable(bad):
    with pytest.raises(SettingsError, match="MARKET_CLOSE_UTC"):
        load_settings({"MARKET_CLOSE_UTC": bad})


def test_every_daily_job_has_an_actor_to_run_it():
    assert set(DAILY_JOB_ACTORS) == set(DAILY_JOBS)
    assert len(set(DAILY_JOB_ACTORS.values())) == len(DAILY_JOBS)
