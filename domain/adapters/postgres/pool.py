"""The psycopg connection pool, configured for fast failure rather than long waits."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from domain.errors import DatabaseUnavailableError


class Pool(AsyncConnectionPool):
    """psycopg's pool plus the deadline that bounds one borrow-and-use, so a hung server means a 503."""

    deadline_s: float = 5.0


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
        deadline_s: float,
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
        self.deadline_s = deadline_s
        self.name = name


async def open_pool(config: PoolConfig) -> Pool:
    """Open the pool without waiting: a database that is down at start is reported by readiness."""
    pool = Pool(
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
    pool.deadline_s = config.deadline_s
    await pool.open(wait=False)
    return pool


@asynccontextmanager
async def connection(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
    """Borrow a connection for one unit of work, under the pool's deadline.

    Driver failures, an exhausted pool and a server that stopped answering all leave as
    DatabaseUnavailableError, which the gateway answers with a 503 and Retry-After.
    """
    deadline = getattr(pool, "deadline_s", None)
    try:
        async with asyncio.timeout(deadline), pool.connection() as conn:
            yield conn
    except PoolTimeout as e:
        raise DatabaseUnavailableError("no database connection became free in time") from e
    except TooManyRequests as e:
        raise DatabaseUnavailableError("too many requests are waiting for the database") from e
    except TimeoutError as e:
        raise DatabaseUnavailableError("the database did not answer in time") from e
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
