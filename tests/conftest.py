"""Real servers for the whole session: started once from pip packages unless URLs are given."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from cli.embedded import EmbeddedServers, fresh_session_dir, start_embedded
from config.settings import Settings, load_settings
from domain.adapters.postgres.demo_data import load_demo_data
from domain.adapters.postgres.migrate import apply_migrations
from gateway.app import create_app
from tests.processes import WebProcess, web_processes

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def servers() -> Iterator[EmbeddedServers]:
    data_dir = fresh_session_dir(ROOT / ".data" / "test")
    with start_embedded(os.environ, data_dir, fast=True) as started:
        apply_migrations(started.database_url)
        load_demo_data(started.database_url)
        yield started


@pytest.fixture(scope="session")
def settings(servers: EmbeddedServers) -> Settings:
    env = {**os.environ, **servers.env(), "ENVIRONMENT": "test", "ACCESS_LOG": "false"}
    return load_settings(env)


def with_settings(settings: Settings, **changes: object) -> Settings:
    return msgspec.structs.replace(settings, **changes)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as c:
        yield c


@pytest.fixture(scope="session")
def process_env(servers: EmbeddedServers) -> dict[str, str]:
    """The environment a Folio process started by a test gets: the session's servers, quiet logs."""
    return {**servers.env(), "ENVIRONMENT": "test", "ACCESS_LOG": "false", "LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="session")
def two_web_processes(process_env: dict[str, str], servers: EmbeddedServers) -> Iterator[list[WebProcess]]:
    """Two independent web processes on the session's servers, shared by the cross-process tests."""
    with web_processes(process_env, 2, servers.data_dir / "web-logs") as procs:
        yield procs
