"""A frozen PostgreSQL (every server process stopped with SIGSTOP) costs a fast 503, never a hang.

A frozen server still accepts TCP connections (the kernel does) and never answers: the case a
stalled proxy does not show, since psycopg's own cancellation then waits on the server too. Each
test stops the session's real server for at most `FREEZE_LIMIT_S` (a watchdog thread resumes it
even if the test is stuck), well beyond the deadlines, so a fast 503 is told from a hang; the
freeze always ends in a `finally`, and the tests then show that the app recovers by itself.
"""

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal

import httpx
import psutil
import pytest
from httpx import Response

from cli.embedded import EmbeddedPostgres
from gateway.app import create_app
from tests.conftest import with_settings

pytestmark = pytest.mark.integration

FREEZE_LIMIT_S = 5.0
READ_S = 1.0  # DB_DEADLINE_S of the apps below
WRITE_S = 1.5  # DB_WRITE_DEADLINE_S
SLACK_S = 1.0  # a fast 503 comes within its deadline plus this; a hang lasts the whole freeze
HEALTH_S = 1.0 + 0.5  # the health budget (1 s in all) plus scheduling slack on a busy machine
ORDER = {"symbol": "MA", "side": "buy", "quantity": "3", "price": "1.1"}


@pytest.fixture
def postgres(servers) -> EmbeddedPostgres:
    if servers.postgres is None:
        pytest.skip("DATABASE_URL is given: an external server cannot be frozen (SIGSTOP) from here")
    return servers.postgres


@contextlib.contextmanager
def frozen(postgres: EmbeddedPostgres) -> Iterator[None]:
    """SIGSTOP the postmaster, then every process it started; SIGCONT them all on the way out."""
    stopped: list[psutil.Process] = []
    watchdog = threading.Timer(FREEZE_LIMIT_S, _resume, (stopped,))
    try:
        postmaster, *_ = postgres.processes()
        postmaster.suspend()  # first: it forks no backend while the others are listed
        stopped.append(postmaster)
        for child in postgres.processes()[1:]:
            child.suspend()
            stopped.append(child)
        watchdog.start()
        yield
    finally:
        watchdog.cancel()
        _resume(stopped)


def _resume(processes: list[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.resume()


async def timed(request: Awaitable[Response]) -> tuple[Response, float]:
    started = time.perf_counter()
    response = await request
    return response, time.perf_counter() - started


def assert_fast_503(answer: tuple[Response, float], bound_s: float) -> None:
    response, elapsed = answer
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert elapsed < bound_s, f"503 after {elapsed:.2f}s, bound {bound_s}s"


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> bool:
    ends = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > ends:
            return False
        await asyncio.sleep(0.2)
    return True


@contextlib.asynccontextmanager
async def serving(settings, headers: dict[str, str], **changes: object) -> AsyncIterator[httpx.AsyncClient]:
    """A dedicated app in this event loop, so requests are truly concurrent (Litestar's test client
    hands each request to a portal thread and waits for it), with every portfolio read uncached."""
    s = with_settings(settings, portfolio_cache=False, db_deadline_s=READ_S, db_write_deadline_s=WRITE_S, **changes)
    app = create_app(s)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            transport=transport, base_url="http://testserver.local", headers=headers, timeout=10
        ) as client,
    ):
        yield client


def held_ma(response: Response) -> Decimal:
    held = next((h for h in response.json()["holdings"] if h["symbol"] == "MA"), None)
    return Decimal(str(held["quantity"])) if held else Decimal(0)


async def test_a_frozen_server_answers_reads_a_trade_and_readiness_with_fast_503s_then_recovers(
    postgres, settings, operator_headers
):
    users = range(6101, 6107)
    trader, key = 6110, f"frozen-{uuid.uuid4()}"
    # Connections enough for every request: each waits on the frozen server, not on the pool.
    async with serving(settings, operator_headers, database_pool_size=10, max_overflow=0) as c:
        before = held_ma(await c.get(f"/api/user/{trader}/portfolio"))
        assert (await c.get("/health/ready")).status_code == 200
        await asyncio.sleep(1.1)  # past the readiness cache (and most connections past POOL_PRE_PING_IDLE_S)
        with frozen(postgres):
            answers = await asyncio.gather(
                *(timed(c.get(f"/api/user/{u}/portfolio")) for u in users),
                timed(c.post(f"/api/user/{trader}/trades", json=ORDER, headers={"Idempotency-Key": key})),
                *(timed(c.get("/health/ready")) for _ in range(3)),
                timed(c.get("/health")),
            )
        reads, trade, ready, health = answers[: len(users)], answers[len(users)], answers[-4:-1], answers[-1]
        for read in reads:
            assert_fast_503(read, READ_S + SLACK_S)
        assert_fast_503(trade, WRITE_S + SLACK_S)
        for answer in ready:  # concurrent callers share one probe round, none queues behind another
            assert_fast_503(answer, HEALTH_S)
            assert answer[0].json()["down"] == ["database"]
        assert health[1] < HEALTH_S
        assert health[0].json()["checks"]["database"]["status"] == "down"

        # Thawed: the pool recovers by itself, and hands out no broken connection.
        assert await eventually(lambda: ok(c, f"/api/user/{users[0]}/portfolio")), "reads did not recover"
        burst = await asyncio.gather(*(c.get(f"/api/user/{u}/portfolio") for u in (*users, *users)))
        assert [r.status_code for r in burst] == [200] * len(burst)
        assert await eventually(lambda: ok(c, "/health/ready")), "readiness did not recover"
        # The trade never reached its commit: the retry with its key applies it, once.
        retried = await c.post(f"/api/user/{trader}/trades", json=ORDER, headers={"Idempotency-Key": key})
        assert retried.status_code == 201, retried.text
        again = await c.post(f"/api/user/{trader}/trades", json=ORDER, headers={"Idempotency-Key": key})
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == retried.json()["id"]
        assert held_ma(await c.get(f"/api/user/{trader}/portfolio")) == before + 3


async def ok(c: httpx.AsyncClient, url: str) -> bool:
    return (await c.get(url)).status_code == 200


async def test_a_trade_frozen_in_its_transaction_answers_503_after_the_write_deadline_and_its_retry_applies_once(
    postgres, settings, operator_headers
):
    trader, key = 6116, f"frozen-{uuid.uuid4()}"
    one = {"database_pool_size": 1, "max_overflow": 0, "pool_timeout_s": 30.0, "pool_pre_ping_idle_s": 3600.0}
    async with serving(settings, operator_headers, **one) as c:
        before = held_ma(await c.get(f"/api/user/{trader}/portfolio"))
        with frozen(postgres):
            placed = await timed(c.post(f"/api/user/{trader}/trades", json=ORDER, headers={"Idempotency-Key": key}))
        assert_fast_503(placed, WRITE_S + SLACK_S)
        assert placed[1] > READ_S  # a write has the longer deadline
        assert await eventually(lambda: ok(c, f"/api/user/{trader}/portfolio")), "reads did not recover"
        retried = await c.post(f"/api/user/{trader}/trades", json=ORDER, headers={"Idempotency-Key": key})
        assert retried.status_code == 201, retried.text
        assert "idempotent-replayed" not in retried.headers
        assert held_ma(await c.get(f"/api/user/{trader}/portfolio")) == before + 3


async def test_a_connection_frozen_during_its_check_on_borrow_answers_a_fast_503(postgres, settings, operator_headers):
    # POOL_PRE_PING_IDLE_S=0: every borrow checks its connection first, so the freeze catches the check.
    async with serving(settings, operator_headers, database_pool_size=2, max_overflow=0, pool_pre_ping_idle_s=0.0) as c:
        assert await eventually(lambda: ok(c, "/api/user/6111/portfolio"))
        with frozen(postgres):
            answers = await asyncio.gather(*(timed(c.get(f"/api/user/{u}/portfolio")) for u in (6111, 6112)))
        for answer in answers:
            assert_fast_503(answer, READ_S + SLACK_S)
        assert await eventually(lambda: ok(c, "/api/user/6112/portfolio")), "reads did not recover"


async def test_a_pool_that_must_open_a_connection_to_a_frozen_server_answers_a_fast_503(
    postgres, settings, operator_headers
):
    # One connection only, and a wait for a connection (POOL_TIMEOUT_S) longer than the freeze: the
    # deadline alone bounds a unit of work that waits for the pool to connect.
    one = {"database_pool_size": 1, "max_overflow": 0, "pool_timeout_s": 30.0, "pool_pre_ping_idle_s": 3600.0}
    async with serving(settings, operator_headers, **one) as c:
        assert await eventually(lambda: ok(c, "/api/user/6113/portfolio"))
        with frozen(postgres):
            # The connection is cut off within the deadline and discarded...
            assert_fast_503(await timed(c.get("/api/user/6114/portfolio")), READ_S + SLACK_S)
            # ...so this one waits while the pool connects to a server that accepts and never answers.
            assert_fast_503(await timed(c.get("/api/user/6115/portfolio")), READ_S + SLACK_S)
        assert await eventually(lambda: ok(c, "/api/user/6115/portfolio")), "the pool did not reconnect"
