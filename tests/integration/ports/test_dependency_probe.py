"""One contract for readiness probes, run against the static twin and the real PostgreSQL and Valkey probes."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import valkey.asyncio as avalkey
from psycopg.conninfo import make_conninfo

from cli.embedded import EmbeddedServers
from config.settings import Settings
from config.wiring.resources import pool_config
from domain.adapters.memory.health import StaticProbe
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.pool import PostgresProbe, open_pool
from domain.adapters.valkey import ValkeyProbe
from domain.ports.health import DependencyProbe
from tests.conftest import with_settings

pytestmark = pytest.mark.integration


@dataclass
class Probes:
    up: DependencyProbe  # on a dependency that answers
    down: DependencyProbe  # on one that does not (nothing listens on its port)


@pytest.fixture(params=["static", "postgres", "valkey"])
async def probes(request: pytest.FixtureRequest, servers: EmbeddedServers, settings: Settings) -> AsyncIterator[Probes]:
    if request.param == "static":
        yield Probes(StaticProbe("database"), StaticProbe("database", failure=ConnectionRefusedError("refused")))
        return
    if request.param == "valkey":
        up = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1, socket_connect_timeout=1)
        down = avalkey.Valkey.from_url("redis://127.0.0.1:1", socket_timeout=0.2, socket_connect_timeout=0.2)
        yield Probes(ValkeyProbe("cache", up), ValkeyProbe("cache", down))
        await up.aclose()
        await down.aclose()
        return
    pools = []
    for url in (settings.database_url, make_conninfo(settings.database_url, host="127.0.0.1", port="1")):
        config = pool_config(with_settings(settings, database_url=url), "folio-test-probe")
        config.min_size, config.max_size = 1, 1
        pools.append(await open_pool(config, NullMetrics()))
    yield Probes(PostgresProbe(pools[0]), PostgresProbe(pools[1]))
    for pool in pools:
        await pool.close()


async def failure_of(probe: DependencyProbe) -> Exception | None:
    """What the check raised (None if it returned); a check that hangs fails the test."""
    guard = asyncio.timeout(10)
    try:
        async with guard:
            await probe.check()
    except Exception as e:  # noqa: BLE001 - the port allows any exception
        assert not guard.expired(), "the check hung instead of failing"
        return e
    return None


async def test_a_dependency_that_answers_passes(probes: Probes):
    assert await failure_of(probes.up) is None
    assert isinstance(probes.up.name, str)
    assert probes.up.name


async def test_a_dependency_that_does_not_answer_fails_the_check(probes: Probes):
    assert await failure_of(probes.down) is not None
    assert probes.down.name == probes.up.name  # the readiness line is the dependency's, whatever its state
