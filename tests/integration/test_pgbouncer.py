"""Folio through PgBouncer in transaction mode: a real web process and a real worker, DATABASE_URL at the pooler.

PgBouncer lends each transaction whichever of its few server connections is free, so anything a connection keeps
for its session (a prepared statement, a startup option, a SET) would be missing, or someone else's, in the next
transaction. The suite's PgBouncer has 4 server connections for every client here: each read and write below runs
on server connections that other clients used before it.
"""

import asyncio
import email
import email.policy
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from cli.embedded import EmbeddedServers, SmtpSink
from cli.embedded.pgbouncer import PgBouncer
from cli.embedded.processes import spawn
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.pool import PoolConfig, connection, open_pool
from domain.models.market_day import CLOSE_JOB, DAILY_JOBS, latest_due_day, parse_close_time
from tests.integration.test_market_day import far_from_now, market_database, rows, wait_for
from tests.processes import BIN, ROOT, WebProcess, WorkerProcess, worker_process
from tests.webhook_receiver import Receiver, receiver

pytestmark = [pytest.mark.integration]
__all__ = ["market_database"]  # the market day's own database (a close rolls every quote of its database)

POOLED_TIMEOUT_MS = 1500  # not the default (3000): the server's timeout is the one the release set
UNCACHED = {"PORTFOLIO_CACHE": "false", "PERFORMANCE_CACHE": "false", "LOCAL_CACHE": "false"}  # every read: the DB
WEBHOOKS = {"WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_RELAY_INTERVAL_S": "0.1", "WEBHOOK_RETRY_JITTER": "0"}
READ_USERS = range(1, 41)


@pytest.fixture(scope="module")
def pooled_env(process_env: dict[str, str], servers: EmbeddedServers, pgbouncer: PgBouncer) -> dict[str, str]:
    return {
        **process_env,
        **UNCACHED,
        **WEBHOOKS,
        "DATABASE_URL": pgbouncer.url(),
        "DATABASE_DIRECT_URL": servers.database_url,
        "DATABASE_POOLER": "pgbouncer",
    }


@pytest.fixture(scope="module")
def log_dir(servers: EmbeddedServers) -> Path:
    return servers.data_dir / "pgbouncer-logs"


@pytest.fixture(scope="module")
def web(pooled_env: dict[str, str], log_dir: Path, operator_headers: dict[str, str]) -> Iterator[httpx.Client]:
    log_dir.mkdir(parents=True, exist_ok=True)
    proc = WebProcess(pooled_env, workers=1, log_path=log_dir / "web.log")
    try:
        proc.wait_ready()
        with httpx.Client(base_url=proc.url, headers=operator_headers, timeout=10) as client:
            yield client
    finally:
        proc.stop()


@pytest.fixture  # one test at a time: the market day's test runs a worker of its own on the same queues
def worker(pooled_env: dict[str, str], log_dir: Path) -> Iterator[WorkerProcess]:
    with worker_process(pooled_env, log_dir / "worker.log") as w:
        yield w


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def release_database(servers: EmbeddedServers) -> Iterator[str]:
    """An empty database of its own: the release sets a default for the role there, nowhere else."""
    name = f"folio_pooled_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(servers.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def new_user(web: httpx.Client) -> int:
    r = web.post("/api/users", json={"email": f"pooled-{uuid.uuid4().hex[:12]}@example.com", "name": "Pooled"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_a_startup_option_is_refused_by_pgbouncer_so_pooled_connections_send_none(pgbouncer):
    base = {"min_size": 8, "max_size": 8, "max_lifetime": 600.0, "timeout": 2.0, "max_waiting": 100}
    timeouts = {"connect_timeout": 3, "statement_timeout_ms": 3000, "deadline_s": 2.0, "write_deadline_s": 2.0}
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(pgbouncer.url(), options="-c statement_timeout=3000")
    pool = await open_pool(PoolConfig(url=pgbouncer.url(), pooled=True, **base, **timeouts), NullMetrics())
    try:
        # The same statement, prepared on request, from 8 clients over 4 shared server connections.
        async def twice(n: int) -> list[int]:
            async with connection(pool) as conn:
                return [(await (await conn.execute("SELECT %s::int", (n,), prepare=True)).fetchone())[0]] * 2

        assert await asyncio.gather(*(twice(n) for n in range(30))) == [[n, n] for n in range(30)]
    finally:
        await pool.close()


def test_the_release_migrates_over_the_direct_url_and_makes_the_timeout_the_roles_default(
    pgbouncer, servers, release_database
):
    direct = servers.postgres.url(release_database) if servers.postgres else pytest.skip("needs the suite's server")
    env = {
        "PATH": str(Path(sys.executable).parent),
        "DATABASE_URL": pgbouncer.url(release_database),
        "DATABASE_DIRECT_URL": direct,
        "DATABASE_POOLER": "pgbouncer",
        "STATEMENT_TIMEOUT_MS": str(POOLED_TIMEOUT_MS),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "migrate"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    applied = re.fullmatch(r"migrate: (\d+) migration\(s\) applied", lines[0])
    assert applied, lines
    assert lines[1] == (
        f"migrate: statement_timeout {POOLED_TIMEOUT_MS} ms is the default of role postgres"
        f" in database {release_database}"
    )
    # Every server connection PgBouncer opens now starts with it: a runaway statement ends at the server.
    with psycopg.connect(pgbouncer.url(release_database), autocommit=True, prepare_threshold=None) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            conn.execute("SELECT pg_sleep(10)")
        assert time.monotonic() - started < 5
        assert conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()[0] == int(applied[1])


async def test_portfolio_and_performance_reads_are_answered_through_pgbouncer(web, client):
    direct = {}  # what the suite's own app, connected to PostgreSQL directly, answers for the same users
    for user_id in READ_USERS:
        r = await client.get(f"/api/user/{user_id}/portfolio")
        assert r.status_code == 200
        direct[user_id] = holdings_of(r.json())
    for _round in range(3):  # past psycopg's threshold for preparing a statement, on shared server connections
        for user_id in READ_USERS:
            r = web.get(f"/api/user/{user_id}/portfolio")
            assert r.status_code == 200, r.text
            assert holdings_of(r.json()) == direct[user_id]
    for user_id in READ_USERS[:5]:  # a repeatable-read, read-only transaction of several statements
        r = web.get(f"/api/user/{user_id}/performance")
        assert r.status_code == 200, r.text


def holdings_of(body: dict) -> list[tuple[str, Decimal]]:
    return sorted((h["symbol"], Decimal(str(h["quantity"]))) for h in body["holdings"])


def test_cash_and_an_idempotent_trade_are_booked_once_through_pgbouncer(web):
    user = new_user(web)
    deposit = {"type": "deposit", "amount": "1000", "currency": "USD"}
    assert web.post(f"/api/user/{user}/cash", json=deposit).status_code == 201
    order = {"symbol": "XOM", "side": "buy", "quantity": "3", "price": "10"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = web.post(f"/api/user/{user}/trades", json=order, headers=key)
    again = web.post(f"/api/user/{user}/trades", json=order, headers=key)
    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    trades = web.get(f"/api/user/{user}/trades").json()["items"]
    assert [t["id"] for t in trades] == [first.json()["id"]]
    portfolio = web.get(f"/api/user/{user}/portfolio").json()
    assert holdings_of(portfolio) == [("XOM", Decimal(3))]
    assert {c["currency"]: Decimal(str(c["amount"])) for c in portfolio["cash"]} == {"USD": Decimal(970)}


def test_a_quote_batch_is_ingested_under_its_lock_through_pgbouncer(web):
    symbol = "CASH-EUR"
    before = web.get(f"/api/market-data/{symbol}").json()
    r = web.put("/api/market-data/quotes", json={"quotes": [{"symbol": symbol, "price": before["quote"]["price"]}]})
    assert r.status_code == 200, r.text
    assert r.json()["version"] > before["version"]
    assert web.get(f"/api/market-data/{symbol}").json()["version"] >= r.json()["version"]


def test_a_report_is_computed_by_the_worker_and_emailed_through_pgbouncer(web, worker, embedded_smtp):
    r = web.post("/api/generate-report?user_id=4211")
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    deadline = time.monotonic() + 60
    body: dict = {}
    while time.monotonic() < deadline and body.get("status") not in ("succeeded", "failed"):
        body = web.get(f"/api/reports/{task_id}").json()
        time.sleep(0.1)
    assert body["status"] == "succeeded", body
    assert body["email_status"] == "sent"
    assert len(emails_for(embedded_smtp, task_id)) == 1


def emails_for(smtp: SmtpSink, report_id: str) -> list[email.message.Message]:
    messages = (email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in smtp.messages())
    return [m for m in messages if m["X-Folio-Report-Id"] == report_id]


def test_the_webhook_relay_delivers_each_event_once_through_pgbouncer(web, worker, hooks):
    user = new_user(web)
    path = f"/pooled/{user}"
    body = {"url": hooks.script(path), "events": ["cash.moved"]}
    assert web.post(f"/api/user/{user}/webhooks", json=body).status_code == 201
    for amount in ("10", "20", "30"):
        deposit = {"type": "deposit", "amount": amount, "currency": "USD"}
        assert web.post(f"/api/user/{user}/cash", json=deposit).status_code == 201
    got = hooks.wait_for(path, 3, timeout=30)
    assert len({a.headers["webhook-id"] for a in got}) == 3
    time.sleep(1.0)  # a duplicate, if there were one, would arrive within the relay's next few rounds
    assert len(hooks.at(path)) == 3


def test_the_clock_and_a_worker_close_a_missed_market_day_once_through_pgbouncer(
    pooled_env, pgbouncer, market_database, log_dir
):
    close_utc = far_from_now()
    today = latest_due_day(datetime.now(UTC), parse_close_time(close_utc))
    with psycopg.connect(market_database, autocommit=True) as conn:
        for job in DAILY_JOBS:  # the last day done: yesterday, so today's close is owed
            conn.execute("INSERT INTO job_runs (job, day, outcome) VALUES (%s, %s, 0)", (job, today - timedelta(1)))
    name = market_database.rsplit("/", 1)[1]
    env = {**pooled_env, "DATABASE_URL": pgbouncer.url(name), "MARKET_CLOSE_UTC": close_utc, "LOG_LEVEL": "INFO"}
    env["DATABASE_DIRECT_URL"] = market_database

    def closed() -> list[tuple[object, ...]]:
        return rows(market_database, "SELECT day FROM job_runs WHERE job = %s ORDER BY day", CLOSE_JOB)

    with worker_process(env, log_dir / "market-worker.log"):
        clock = spawn(
            [str(BIN / "python"), "-m", "cli", "clock"], log_dir / "clock.log", cwd=ROOT,
            death_signal=signal.SIGTERM, env={**os.environ, **env},
        )  # fmt: skip
        try:
            wait_for(lambda: len(closed()) == 2, 60, "today's close")
        finally:
            clock.terminate()
            assert clock.wait(15) == 0
    assert closed() == [(today - timedelta(1),), (today,)]
    closes = rows(market_database, "SELECT instrument_id, day, close FROM daily_prices ORDER BY instrument_id")
    assert [(i, d) for i, d, _ in closes] == [(1, today), (2, today)]
    audited = rows(market_database, "SELECT target FROM audit_log WHERE action = 'market.close'")
    assert audited == [(f"market-day:{today.isoformat()}",)]
