"""Faults: a dead cache costs nothing but speed; a dead or hung database costs a fast 503."""

import asyncio
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.conftest import with_settings
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


def held_xom(body: dict) -> Decimal:
    held = next((h for h in body["holdings"] if h["symbol"] == "XOM"), None)
    return Decimal(str(held["quantity"])) if held else Decimal(0)


async def eventually(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_with_valkey_stopped_reads_and_writes_stay_correct_and_caching_resumes(client, embedded_valkey):
    user = 5004
    url = f"/api/user/{user}/portfolio"
    await client.get(url)
    assert (await client.get(url)).headers["x-cache"] == "hit"
    embedded_valkey.stop()
    try:
        before = held_xom((await client.get(url)).json())
        placed = await client.post(
            f"/api/user/{user}/trades", json={"symbol": "XOM", "side": "buy", "quantity": "2", "price": "0.7"}
        )
        assert placed.status_code == 201
        for _ in range(20):  # the breaker opens; every read still answers from PostgreSQL
            r = await client.get(url)
            assert r.status_code == 200
            assert held_xom(r.json()) == before + 2
            assert r.headers["x-cache"] == "miss"
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded"
        assert health["checks"]["cache"]["status"] == "down"
        # Still ready: the platform must not pull every instance out of its router while they serve.
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert "cache" in ready.json()["down"]
    finally:
        embedded_valkey.start()

    async def cached_again() -> bool:
        r = await client.get(url)
        return r.status_code == 200 and r.headers["x-cache"] == "hit" and held_xom(r.json()) == before + 2

    assert await eventually(cached_again), "caching did not resume after Valkey came back"


@pytest.fixture
def proxy(servers):
    target = urlsplit(servers.database_url)  # the embedded server's, or a given one (with or without a user)
    p = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    yield p
    p.close()


def through(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{user}@127.0.0.1:{proxy.port}" if user else f"127.0.0.1:{proxy.port}").geturl()


async def test_an_unreachable_database_answers_503_with_retry_after_fast(settings, servers, proxy, operator_headers):
    s = with_settings(
        settings, database_url=through(proxy, servers.database_url), portfolio_cache=False, database_pool_size=2
    )
    async with AsyncTestClient(app=create_app(s), timeout=10) as c:
        c.headers.update(operator_headers)
        assert (await c.get("/api/user/11/portfolio")).status_code == 200
        proxy.cut()
        started = time.perf_counter()
        r = await c.get("/api/user/12/portfolio")
        elapsed = time.perf_counter() - started
        print(f"503 after {elapsed:.3f}s")
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "request_id" in r.json()
        ready = await c.get("/health/ready")
        assert ready.status_code == 503
        assert "database" in ready.json()["detail"]
        proxy.restore()
        assert (await eventually(lambda: _ok(c, "/api/user/12/portfolio"))) is True


async def _ok(c, url: str) -> bool:
    return (await c.get(url)).status_code == 200


async def test_a_hung_database_and_an_exhausted_pool_answer_503_not_a_hang(settings, servers, proxy, operator_headers):
    s = with_settings(
        settings,
        database_url=through(proxy, servers.database_url),
        portfolio_cache=False,
        database_pool_size=1,
        max_overflow=0,
        pool_max_waiting=2,
        db_deadline_s=1.5,
    )
    async with AsyncTestClient(app=create_app(s), timeout=10) as c:
        c.headers.update(operator_headers)
        assert (await c.get("/api/user/13/portfolio")).status_code == 200
        proxy.stall()
        answers = await asyncio.gather(*(c.get(f"/api/user/{14 + i}/portfolio") for i in range(6)))
        assert [r.status_code for r in answers] == [503] * 6
        assert all(r.headers["retry-after"] for r in answers)
        proxy.restore()
        assert (await eventually(lambda: _ok(c, "/api/user/13/portfolio"))) is True
