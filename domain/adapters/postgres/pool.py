"""The psycopg connection pool, configured for fast failure rather than long waits."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from domain.errors import DatabaseUnavailableError


class PoolConfig:
    """Plain values the composition root passes in (adapters never read settings)."""

    def __init__(
        self,
        *,
        url: str,
        min_size: int,
        max_size: int,
        max_lifetime: float,
        timeout: float,
        max_waiting: int,
        connect_timeout: int,
        statement_timeout_ms: int,
        name: str = "folio",
    ) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self.max_lifetime = max_lifetime
        self.timeout = timeout
        self.max_waiting = max_waiting
        self.connect_timeout = connect_timeout
        self.statement_timeout_ms = statement_timeout_ms
        self.name = name


async def open_pool(config: PoolConfig) -> AsyncConnectionPool:
    """Open the pool and wait for its first connections; fails fast when the database is down."""
    pool: AsyncConnectionPool = AsyncConnectionPool(
        config.url,
        min_size=config.min_size,
        max_size=config.max_size,
        max_lifetime=config.max_lifetime,
        timeout=config.timeout,
        max_waiting=config.max_waiting,
        check=AsyncConnectionPool.check_connection,
        kwargs={
            "autocommit": True,
            "connect_timeout": config.connect_timeout,
            "options": f"-c statement_timeout={config.statement_timeout_ms}",
            "application_name": config.name,
        },
        reconnect_timeout=30,
        name=config.name,
        open=False,
    )
    await pool.open(wait=False)
    return pool


@asynccontextmanager
async def connection(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
    """Borrow a connection; driver failures leave as DatabaseUnavailableError."""
    try:
        async with pool.connection() as conn:
            yield conn
    except PoolTimeout as e:
        raise DatabaseUnavailableError("no database connection became free in time") from e
    except psycopg.OperationalError as e:
        raise DatabaseUnavailableError() from e


class PostgresProbe:
    """Readiness: one round trip through the pool."""

    name = "database"

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def check(self) -> None:
        async with connection(self._pool) as conn:
            await conn.execute("SELECT 1")
