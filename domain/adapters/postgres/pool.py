"""The psycopg connection pool, configured for fast failure rather than long waits."""

import time
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.abc import Params, Query
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from domain import timing
from domain.adapters.postgres.deadline import CURRENT, Deadline
from domain.errors import DatabaseUnavailableError
from domain.ports.metrics import Metrics

# Every statement's short, stable name for the query-duration metric (`name_queries`); others: "other".
QUERY_NAMES: dict[str, str] = {"": "ping", "SELECT 1": "probe"}


def name_queries(names: Mapping[str, str]) -> None:
    """Name an adapter's SQL statements (statement text -> name), once, where they are defined."""
    QUERY_NAMES.update(names)


def timed_cursor(metrics: Metrics) -> type[AsyncCursor[Any]]:
    """A cursor class that reports each statement's time under its name."""

    class TimedCursor(AsyncCursor[Any]):
        async def execute(
            self, query: Query, params: Params | None = None, *, prepare: bool | None = None, binary: bool | None = None
        ) -> Self:
            start = time.perf_counter()
            parent: Any = super()  # its overloads split str and template queries; this takes both
            try:
                cursor: Self = await parent.execute(query, params, prepare=prepare, binary=binary)
                return cursor
            finally:
                name = QUERY_NAMES.get(query, "other") if isinstance(query, str) else "other"
                metrics.query(name, time.perf_counter() - start)

    return TimedCursor


class IdleCheck:
    """The seed's pre-ping, paid only by connections that sat idle for a while.

    A connection returned less than `after_s` ago was working then; checking it again on every
    borrow would cost a round trip per query (measured: 180 us of CPU on a 290 us query). The
    check runs under the borrower's deadline, and a connection that fails it is closed at once, so
    psycopg_pool discards it (and opens a replacement) rather than lending it out.
    """

    def __init__(self, after_s: float) -> None:
        self._after_s = after_s
        self._idle_since: weakref.WeakKeyDictionary[AsyncConnection, float] = weakref.WeakKeyDictionary()

    async def returned(self, conn: AsyncConnection) -> None:
        self._idle_since[conn] = time.monotonic()

    async def borrowed(self, conn: AsyncConnection) -> None:
        since = self._idle_since.get(conn)
        if since is not None and time.monotonic() - since < self._after_s:
            return
        if (deadline := CURRENT.get()) is not None:
            deadline.watch(conn)  # past the deadline: raises, and the pool keeps this connection as it is
        try:
            await AsyncConnectionPool.check_connection(conn)
        except psycopg.Error:
            await conn.close()
            raise


class Pool(AsyncConnectionPool):
    """psycopg's pool plus the deadlines that bound one unit of work, so a hung server means a 503."""

    deadline_s: float = 1.0
    write_deadline_s: float = 3.0


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
        write_deadline_s: float,
        check_idle_after_s: float = 1.0,
        name: str = "folio",
        pooled: bool = False,
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
        self.write_deadline_s = write_deadline_s
        self.check_idle_after_s = check_idle_after_s
        self.name = name
        self.pooled = pooled  # the URL is a transaction-mode pooler (PgBouncer): no session state of ours


async def open_pool(config: PoolConfig, metrics: Metrics) -> Pool:
    """Open the pool without waiting: a database that is down at start is reported by readiness.

    Statements are timed by name unless metrics are off; the pool's state is sampled by `report_pool`.
    """
    idle_check = IdleCheck(config.check_idle_after_s)
    extra: dict[str, Any] = {"cursor_factory": timed_cursor(metrics)} if metrics.enabled else {}
    pool = Pool(
        config.url,
        min_size=config.min_size,
        max_size=config.max_size,
        max_lifetime=config.max_lifetime,
        timeout=config.timeout,
        max_waiting=config.max_waiting,
        check=idle_check.borrowed,
        reset=idle_check.returned,
        kwargs={
            "autocommit": True,
            "connect_timeout": config.connect_timeout,
            "application_name": config.name,  # PgBouncer tracks it, setting it on each server connection it lends
            **session_kwargs(config),
            **extra,
        },
        reconnect_timeout=30,
        name=config.name,
        open=False,
    )
    pool.deadline_s = config.deadline_s
    pool.write_deadline_s = config.write_deadline_s
    await pool.open(wait=False)
    return pool


def session_kwargs(config: PoolConfig) -> dict[str, Any]:
    """What a connection may set for its whole session: nothing, through a transaction-mode pooler.

    There each transaction may run on another server connection, which other clients share. A prepared
    statement is then missing (or already taken) on the next one, so none is prepared (`prepare_threshold`
    None overrides every `prepare=True`); and PgBouncer refuses the `options` startup parameter, so the
    statement timeout comes from the role's default in the database instead (`set_role_timeout`, run by the
    release step over the direct URL).
    """
    if config.pooled:
        return {"prepare_threshold": None}
    return {"options": f"-c statement_timeout={config.statement_timeout_ms}"}


@asynccontextmanager
async def connection(
    pool: AsyncConnectionPool, *, write: bool = False, deadline_s: float | None = None
) -> AsyncIterator[AsyncConnection]:
    """Borrow a connection for one unit of work, all of it under one deadline.

    The deadline is the pool's `deadline_s`, or `write_deadline_s` for a write (a transaction
    whose commit must not be cut short by a read's budget), or `deadline_s` if given. It covers
    the wait for a connection, the check on borrow, every statement and the commit. Driver
    failures, an exhausted pool and a server that stopped answering all leave as
    DatabaseUnavailableError, which the gateway answers with a 503 and Retry-After; a connection
    that was cut off is closed, never returned to the pool.
    """
    # A plain psycopg pool (no deadlines of its own) bounds a unit of work by its wait timeout.
    own = float(getattr(pool, "write_deadline_s" if write else "deadline_s", pool.timeout))
    seconds = own if deadline_s is None else deadline_s
    start = time.perf_counter()
    deadline = Deadline(seconds)
    token = CURRENT.set(deadline)
    try:
        conn = await pool.getconn(timeout=min(pool.timeout, seconds))
        try:
            deadline.watch(conn)
            async with conn:
                yield conn
        finally:
            deadline.cancel()
            if deadline.severed is conn:
                await conn.close()  # the pool discards a closed connection and opens another
            await pool.putconn(conn)
    except (psycopg.OperationalError, PoolTimeout) as e:
        if deadline.expired:
            raise DatabaseUnavailableError("the database did not answer in time") from e
        if isinstance(e, PoolTimeout):
            raise DatabaseUnavailableError("no database connection became free in time") from e
        raise DatabaseUnavailableError() from e
    except TooManyRequests as e:
        raise DatabaseUnavailableError("too many requests are waiting for the database") from e
    finally:
        deadline.cancel()
        CURRENT.reset(token)
        timing.add_db(time.perf_counter() - start)  # the request's Server-Timing: the wait for a connection too


def report_pool(pool: AsyncConnectionPool, metrics: Metrics) -> None:
    """Sample the pool's state into `metrics`; the metrics own `pop_stats` (others: `get_stats`)."""
    stats = pool.pop_stats()
    metrics.pool(
        size=stats.get("pool_size", 0),
        idle=stats.get("pool_available", 0),
        waiting=stats.get("requests_waiting", 0),
        max_size=stats.get("pool_max", 0),
        timeouts=stats.get("requests_errors", 0),
    )


class PostgresProbe:
    """Readiness: one round trip through the pool, under its own deadline (below the health budget)."""

    name = "database"

    def __init__(self, pool: AsyncConnectionPool, deadline_s: float = 0.5) -> None:
        self._pool = pool
        self._deadline_s = deadline_s

    async def check(self) -> None:
        async with connection(self._pool, deadline_s=self._deadline_s) as conn:
            await conn.execute("SELECT 1")
