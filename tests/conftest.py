"""Real servers for the whole session: started once from pip packages unless URLs are given.

With DATABASE_URL, VALKEY_URL or SMTP_URL set, the suite uses that server instead of starting one,
and writes to it (the schema, the demo data, trades, reports, cache keys, emails; README.md says
what exactly). A test that stops, restarts or reads the files of a server asks for `embedded_valkey`
or `embedded_smtp`, and is skipped, saying why, when that server was given.
"""

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from cli.demo_data import load_demo_data
from cli.embedded import EmbeddedServers, EmbeddedValkey, SmtpSink, fresh_session_dir, start_embedded
from config.settings import Settings, load_settings
from domain.adapters.postgres.migrate import apply_migrations
from gateway.app import create_app
from gateway.auth import Scope, mint_token
from tests.processes import WebProcess, web_processes

ROOT = Path(__file__).resolve().parent.parent
TokenFactory = Callable[..., str]
HeadersFactory = Callable[[int], dict[str, str]]
# One signing secret for the session: the in-process app, the test's own tokens and every process started.
TEST_JWT_SECRET = "folio-test-secret-" + "0123456789abcdef" * 2
# The limiter runs in every test, with limits no test reaches; tests/**/test_rate_limit*.py set low ones.
GENEROUS_RATE_LIMITS = {
    "RATE_LIMIT_PER_MINUTE": "1000000",
    "RATE_LIMIT_OPERATOR_PER_MINUTE": "1000000",
    "RATE_LIMIT_ANON_PER_MINUTE": "1000000",
}


@pytest.fixture(scope="session")
def servers() -> Iterator[EmbeddedServers]:
    data_dir = fresh_session_dir(ROOT / ".data" / "test")
    with start_embedded(os.environ, data_dir, fast=True) as started:
        apply_migrations(started.database_url)
        load_demo_data(started.database_url)
        yield started


@pytest.fixture
def embedded_valkey(servers: EmbeddedServers) -> EmbeddedValkey:
    """The suite's own Valkey, which a test may stop and restart; skips the test when VALKEY_URL is given."""
    if servers.valkey is None:
        pytest.skip("VALKEY_URL is given: this test stops and restarts Valkey, which it does only to its own server")
    return servers.valkey


@pytest.fixture
def embedded_smtp(servers: EmbeddedServers) -> SmtpSink:
    """The suite's own SMTP sink, whose .eml files a test reads; skips the test when SMTP_URL is given."""
    if servers.smtp is None:
        pytest.skip("SMTP_URL is given: this test reads the delivered emails, which only the suite's own sink keeps")
    return servers.smtp


@pytest.fixture(scope="session")
def settings(servers: EmbeddedServers) -> Settings:
    env = {**os.environ, **servers.env(), "ENVIRONMENT": "test", "ACCESS_LOG": "false", "JWT_SECRET": TEST_JWT_SECRET}
    env["METRICS_DIR"] = str(servers.data_dir / "metrics")  # shared with the processes the tests start
    return load_settings({**env, **GENEROUS_RATE_LIMITS})


@pytest.fixture(scope="session")
def token(settings: Settings) -> TokenFactory:
    """`token(user_id)` mints a user token; `token("ops", scope="operator")` an operator's."""

    def make(subject: int | str, scope: Scope = "user", ttl_s: int | None = None) -> str:
        return mint_token(settings, subject=str(subject), scope=scope, ttl_s=ttl_s)

    return make


@pytest.fixture(scope="session")
def auth_headers(token: TokenFactory) -> HeadersFactory:
    """`auth_headers(user_id)`: the Authorization header of that user's token."""
    return lambda user_id: {"Authorization": f"Bearer {token(user_id)}"}


@pytest.fixture(scope="session")
def operator_headers(token: TokenFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('operator', 'operator')}"}


def with_settings(settings: Settings, **changes: object) -> Settings:
    return msgspec.structs.replace(settings, **changes)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: Litestar, operator_headers: dict[str, str]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as c:
        c.headers["Authorization"] = operator_headers["Authorization"]  # per-object tests send user tokens
        yield c


@pytest.fixture(scope="session")
def process_env(servers: EmbeddedServers) -> dict[str, str]:
    """The environment a Folio process started by a test gets: the session's servers, quiet logs."""
    return {
        **servers.env(),
        "ENVIRONMENT": "test",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "JWT_SECRET": TEST_JWT_SECRET,
        "METRICS_DIR": str(servers.data_dir / "metrics"),
        **GENEROUS_RATE_LIMITS,
    }


@pytest.fixture(scope="session")
def two_web_processes(process_env: dict[str, str], servers: EmbeddedServers) -> Iterator[list[WebProcess]]:
    """Two independent web processes on the session's servers, shared by the cross-process tests."""
    with web_processes(process_env, 2, servers.data_dir / "web-logs") as procs:
        yield procs
