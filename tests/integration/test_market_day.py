"""The market day on the real servers: the `clock` process (as the Procfile runs it) catches up the days it
missed, a real Dramatiq worker runs each job once per day however often it is delivered.

The suite works in a database of its own: a close rolls every quote of the database it runs in.
"""

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cli.embedded import EmbeddedServers
from cli.embedded.processes import spawn
from config.queues import DAILY_JOB_ACTORS, MARKET_QUEUE
from config.settings import Settings
from config.wiring.reports import build_broker
from domain.adapters.daily_jobs_queue import DramatiqDailyJobQueue
from domain.adapters.postgres.migrate import apply_migrations
from domain.models.market_day import CLOSE_JOB, DAILY_JOBS, RETENTION_JOB, latest_due_day, parse_close_time
from tests.processes import BIN, ROOT, worker_process

pytestmark = pytest.mark.integration
PRICES = {"MD1": "101.5", "MD2": "7.25"}


@pytest.fixture(scope="module")
def market_database(servers: EmbeddedServers) -> Iterator[str]:
    """A migrated database with two quoted instruments whose price moved since the previous close."""
    name = f"folio_market_day_{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = servers.database_url.rsplit("/", 1)[0] + "/" + name
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for iid, (symbol, price) in enumerate(PRICES.items(), start=1):
            conn.execute(
                "INSERT INTO instruments (id, symbol, name, asset_class, currency, exchange)"
                " VALUES (%s, %s, %s, 'equity', 'USD', 'TEST')",
                (iid, symbol, symbol),
            )
            conn.execute(
                "INSERT INTO quotes (instrument_id, price, bid, ask, previous_close, day_high, day_low, volume, as_of)"
                " VALUES (%s, %s, %s, %s, 1, %s, 1, 10, now())",
                (iid, price, price, price, price),
            )
    yield url
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(drop)


def far_from_now() -> str:
    """A close time twelve hours away, so the scheduled close cannot fire during the test."""
    return (datetime.now(UTC) + timedelta(hours=12)).strftime("%H:%M")


def rows(url: str, query: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}")


def test_a_clock_down_for_three_days_catches_up_three_closes_each_done_once(
    market_database: str, process_env: dict[str, str], settings: Settings, servers: EmbeddedServers
) -> None:
    close_utc = far_from_now()
    today = latest_due_day(datetime.now(UTC), parse_close_time(close_utc))
    stopped = today - timedelta(days=3)  # the last day done before the clock went down
    with psycopg.connect(market_database, autocommit=True) as conn:
        for job in DAILY_JOBS:
            conn.execute("INSERT INTO job_runs (job, day, outcome) VALUES (%s, %s, 0)", (job, stopped))
    env = {**process_env, "DATABASE_URL": market_database, "MARKET_CLOSE_UTC": close_utc, "LOG_LEVEL": "INFO"}
    logs = servers.data_dir / "market-day-logs"
    logs.mkdir(parents=True, exist_ok=True)
    owed = [today - timedelta(days=d) for d in (2, 1, 0)]

    def closed_days() -> list[date]:
        return [r[0] for r in rows(market_database, "SELECT day FROM job_runs WHERE job = %s ORDER BY day", CLOSE_JOB)]

    with worker_process(env, logs / "worker.log") as worker:
        clock = spawn(
            [str(BIN / "python"), "-m", "cli", "clock"], logs / "clock.log", cwd=ROOT, death_signal=signal.SIGTERM,
            env={**os.environ, **env},
        )  # fmt: skip
        try:
            wait_for(lambda: len(closed_days()) == 4, 60, f"closes of {owed}; clock log: {_tail(logs / 'clock.log')}")
        finally:
            clock.terminate()
            assert clock.wait(15) == 0  # SIGTERM: a clean stop
        assert closed_days() == [stopped, *owed]
        assert "the market closes at" in (logs / "clock.log").read_text()

        _deliver_again(settings, owed)
        wait_for(lambda: worker.log().count("already done") >= 2 * len(owed), 30, "repeats handled")

    assert closed_days() == [stopped, *owed]  # once each, though each was delivered twice
    retained = rows(market_database, "SELECT day FROM job_runs WHERE job = %s ORDER BY day", RETENTION_JOB)
    assert [r[0] for r in retained] == [stopped, *owed]
    closes = rows(market_database, "SELECT instrument_id, day, close FROM daily_prices ORDER BY instrument_id, day")
    assert [(i, d) for i, d, _ in closes] == [(i, d) for i in (1, 2) for d in owed]
    assert {str(c.normalize()) for _, _, c in closes} == set(PRICES.values())
    quotes = rows(market_database, "SELECT price, previous_close, day_high, day_low, volume FROM quotes")
    assert all(price == prev == high == low and volume == 0 for price, prev, high, low, volume in quotes)
    # One entry per day; two days' closes may commit in either order (the worker runs them on two threads).
    audited = rows(market_database, "SELECT target FROM audit_log WHERE action = 'market.close' ORDER BY target")
    assert [r[0] for r in audited] == [f"market-day:{d.isoformat()}" for d in owed]


def _deliver_again(settings: Settings, days: list[date]) -> None:
    """Send every owed job once more, as a redelivery would."""
    broker = build_broker(settings)
    queue = DramatiqDailyJobQueue(broker, queue_name=MARKET_QUEUE, actors=DAILY_JOB_ACTORS)

    async def send() -> None:
        for job in DAILY_JOBS:
            for day in days:
                await queue.send(job, day)

    try:
        asyncio.run(send())
    finally:
        broker.close()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"
