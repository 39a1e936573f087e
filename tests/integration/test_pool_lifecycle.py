"""The pool's check on borrow (POOL_PRE_PING_IDLE_S) and its recycling (POOL_RECYCLE), as configured.

Each test opens its own pool, built from the settings by the composition root's `pool_config`,
under an application name of its own, so `pg_stat_activity` shows exactly its backends; reads go
through the real holdings repository, as a portfolio read does.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from config.settings import Settings
from config.wiring.resources import pool_config
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.holdings import PostgresHoldingsRepository
from domain.adapters.postgres.pool import Pool, open_pool
from domain.errors import DatabaseUnavailableError
from tests.conftest import with_settings

pytestmark = pytest.mark.integration

USER = 6150


@contextlib.asynccontextmanager
async def pool_of(settings: Settings, **changes: object) -> AsyncIterator[tuple[Pool, str]]:
    name = f"folio-test-{uuid.uuid4().hex[:8]}"
    pool = await open_pool(pool_config(with_settings(settings, **changes), name), NullMetrics())
    try:
        await pool.wait(timeout=10)
        yield pool, name
    finally:
        await pool.close()


async def backends(admin: psycopg.AsyncConnection, name: str) -> dict[int, float]:
    """pid -> backend start (epoch seconds) of the pool's live backends."""
    cur = await admin.execute(
        "SELECT pid, extract(epoch FROM backend_start)::float8 FROM pg_stat_activity WHERE application_name = %s",
        (name,),
    )
    return dict(await cur.fetchall())


@pytest.fixture
async def admin(servers) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(servers.database_url, autocommit=True) as conn:
        yield conn


async def terminate(admin: psycopg.AsyncConnection, pids: object) -> None:
    await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (list(pids),))  # type: ignore[call-overload]


async def test_a_backend_killed_while_its_connection_sat_idle_past_the_threshold_is_replaced_on_borrow(settings, admin):
    async with pool_of(settings, database_pool_size=1, max_overflow=0, pool_pre_ping_idle_s=0.2) as (pool, name):
        repository = PostgresHoldingsRepository(pool)
        first = await repository.get(USER)
        before = await backends(admin, name)
        assert len(before) == 1
        await asyncio.sleep(0.4)  # idle past POOL_PRE_PING_IDLE_S
        await terminate(admin, before)

        assert await repository.get(USER) == first  # the check found it dead: a new connection served the read
        after = await backends(admin, name)
        assert len(after) == 1
        assert not after.keys() & before.keys()


async def test_a_connection_used_within_the_threshold_is_not_checked_so_a_dead_one_fails_fast_once(settings, admin):
    async with pool_of(settings, database_pool_size=1, max_overflow=0, pool_pre_ping_idle_s=60) as (pool, name):
        repository = PostgresHoldingsRepository(pool)
        first = await repository.get(USER)
        before = await backends(admin, name)
        await terminate(admin, before)
        await asyncio.sleep(0.2)  # the backend is gone for sure

        started = time.perf_counter()
        with pytest.raises(DatabaseUnavailableError):  # the gateway's 503
            await repository.get(USER)
        assert time.perf_counter() - started < 1.0

        # The broken connection went out of the pool: the next read gets a new one.
        assert await repository.get(USER) == first
        after = await backends(admin, name)
        assert len(after) == 1
        assert not after.keys() & before.keys()


async def test_with_a_small_pool_recycle_connections_are_replaced_as_they_are_used(settings, admin):
    recycle_s = 1
    async with pool_of(settings, database_pool_size=2, max_overflow=0, pool_recycle=recycle_s) as (pool, name):
        repository = PostgresHoldingsRepository(pool)
        initial = await backends(admin, name)
        assert len(initial) == 2
        seen: dict[int, float] = dict(initial)
        first = await repository.get(USER)
        ends = time.monotonic() + 3 * recycle_s
        while time.monotonic() < ends:
            assert await repository.get(USER) == first  # replacing connections fails no read
            seen |= await backends(admin, name)
            await asyncio.sleep(0.05)

        current = await backends(admin, name)
        assert len(current) == 2
        assert not current.keys() & initial.keys()  # every connection was replaced, new backends
        assert len(seen) >= 6  # about one new backend per connection per second
        # A connection is closed when it is returned past its lifetime, so none in use outlives it by much.
        now = time.time()
        assert all(now - started < recycle_s + 1.0 for started in current.values())


async def test_a_connection_past_its_lifetime_is_replaced_when_next_returned_not_while_idle(settings, admin):
    async with pool_of(settings, database_pool_size=1, max_overflow=0, pool_recycle=1) as (pool, name):
        repository = PostgresHoldingsRepository(pool)
        first = await repository.get(USER)
        before = await backends(admin, name)
        await asyncio.sleep(1.5)  # past its lifetime, unused
        assert await backends(admin, name) == before  # still the same backend: nothing closes it while idle

        assert await repository.get(USER) == first  # served by the expired connection, closed on return
        for _ in range(50):
            after = await backends(admin, name)
            if after and not after.keys() & before.keys():
                break
            await asyncio.sleep(0.1)
        assert after, "the pool did not open a new connection"
        assert not after.keys() & before.keys(), "the expired connection was not replaced"
