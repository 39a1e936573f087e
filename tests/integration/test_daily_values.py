"""Stored daily values on the real PostgreSQL: the market day's close stores the day of every user whose days
were read before, once however often it is delivered, and a user with none stored (created after the close)
is answered right and stored.

The suite works in a database of its own: a close rolls every quote of the database it runs in.
"""

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from cli.embedded import EmbeddedServers
from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.quotes import InMemoryQuoteVersionBus
from domain.adapters.postgres.corporate_actions import PostgresCorporateActionStore
from domain.adapters.postgres.daily_values import PostgresDailyValues
from domain.adapters.postgres.market_day import PostgresMarketDayStore
from domain.adapters.postgres.migrate import apply_migrations
from domain.adapters.postgres.performance import PostgresValueHistory
from domain.analytics.periods import period_start
from domain.models.audit import AuditEntry
from domain.models.corporate_actions import CORPORATE_ACTION_RECORD, CORPORATE_ACTION_RUN, CorporateActionDraft
from domain.models.performance import encode_series
from domain.services.market_day import MarketDayJobs
from tests.integration.ports.conftest import CONTRACT_ACTOR
from tests.integration.test_performance_pasts import stored_answers

pytestmark = pytest.mark.integration
TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture(scope="module")
def values_database(servers: EmbeddedServers) -> Iterator[str]:
    """A migrated database with one share quoted at 12 (its close yesterday: 10)."""
    name = f"folio_daily_values_{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = servers.database_url.rsplit("/", 1)[0] + "/" + name
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO instruments (id, symbol, name, asset_class, currency, exchange)"
            " VALUES (1, 'DV1', 'DV1', 'equity', 'USD', 'TEST')"
        )
        conn.execute(
            "INSERT INTO quotes (instrument_id, price, bid, ask, previous_close, day_high, day_low, volume, as_of)"
            " VALUES (1, 12, 12, 12, 10, 12, 12, 10, now())"
        )
        conn.execute("INSERT INTO daily_prices (instrument_id, day, close) VALUES (1, %s, 10)", (YESTERDAY,))
    yield url
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(drop)


@pytest.fixture
async def pool(values_database: str) -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(values_database, min_size=1, max_size=4, timeout=10) as p:
        yield p


def deposit(url: str, user: int, amount: int, at: datetime) -> None:
    with psycopg.connect(url) as conn:  # one transaction: an entry's postings balance at its commit
        (entry,) = conn.execute(
            "INSERT INTO ledger_entries (user_id, kind, booked_at) VALUES (%s, 'deposit', %s) RETURNING id", (user, at)
        ).fetchone() or (0,)
        conn.execute(
            "INSERT INTO ledger_postings (entry_id, line, account, currency, amount)"
            " VALUES (%s, 0, 'cash', 'USD', %s), (%s, 1, 'bank', 'USD', %s)",
            (entry, amount, entry, -amount),
        )


def owner(url: str, user: int) -> None:
    """A user who deposited 100 yesterday and bought 5 shares at 8 with it: 60 in cash and the shares."""
    noon = datetime.combine(YESTERDAY, time(12), tzinfo=UTC)
    with psycopg.connect(url) as conn:  # one transaction: an entry's postings balance at its commit
        conn.execute("INSERT INTO users (id, email, name) VALUES (%s, %s, 'Owner')", (user, f"dv{user}@example.com"))
        conn.execute(
            "INSERT INTO trades (user_id, instrument_id, side, quantity, price, executed_at)"
            " VALUES (%s, 1, 'buy', 5, 8, %s)",
            (user, noon),
        )
        conn.execute(
            "INSERT INTO holdings (user_id, instrument_id, quantity, average_cost) VALUES (%s, 1, 5, 8)", (user,)
        )
        for kind, amount in (("deposit", 100), ("trade", -40)):
            (entry,) = conn.execute(
                "INSERT INTO ledger_entries (user_id, kind, booked_at) VALUES (%s, %s, %s) RETURNING id",
                (user, kind, noon),
            ).fetchone() or (0,)
            conn.execute(
                "INSERT INTO ledger_postings (entry_id, line, account, currency, amount)"
                " VALUES (%s, 0, 'cash', 'USD', %s), (%s, 1, 'bank', 'USD', %s)",
                (entry, amount, entry, -amount),
            )


def market_day_jobs(pool: AsyncConnectionPool) -> MarketDayJobs:
    return MarketDayJobs(
        PostgresMarketDayStore(pool), InMemoryQuoteVersionBus(), FixedClock(datetime.now(UTC)), retention_days=30,
        daily_values=PostgresDailyValues(pool, "USD"),
    )  # fmt: skip


async def close_today(pool: AsyncConnectionPool) -> None:
    """Record today's close (once: delivered again, the job does nothing)."""
    await market_day_jobs(pool).close(TODAY)


def period_of(period: str) -> tuple[date, date]:
    since = period_start(period, TODAY)
    assert since is not None
    return since, TODAY


def stored(url: str, user: int) -> list[tuple[date, Decimal, str]]:
    """The user's stored days, with the transaction that wrote each row (xmin): a rewrite shows."""
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT day, value, xmin::text FROM daily_values WHERE user_id = %s ORDER BY day", (user,))
        return cur.fetchall()


async def test_the_close_stores_each_users_days_once_though_delivered_twice(
    values_database: str, pool: AsyncConnectionPool
) -> None:
    owner(values_database, 1)
    owner(values_database, 4)  # never reads its performance
    history = await PostgresValueHistory(pool, "USD").history(1, YESTERDAY, TODAY)  # stores yesterday
    assert [(v.day, v.value) for v in history.values] == [(YESTERDAY, Decimal(110))]  # today has no close yet
    jobs = market_day_jobs(pool)
    assert await jobs.close(TODAY) is not None
    first = stored(values_database, 1)
    # yesterday: 60 cash + 5 x 10; today, at the close just recorded: 60 + 5 x 12
    assert [(d, v) for d, v, _ in first] == [(YESTERDAY, Decimal(110)), (TODAY, Decimal(120))]
    assert stored(values_database, 4) == []  # the close keeps the readers' days only: its are computed when read
    # and every period's answer stored with them, with today's close in it (each one what a full read computes)
    assert set((await stored_answers(pool, 1, 0.04)).values()) == {True}
    past = await PostgresValueHistory(pool, "USD").past(1, "1M", *period_of("1M"))
    assert past is not None
    assert past.series.endswith(f'{{"day":"{TODAY.isoformat()}","value":120.00000000}}]'.encode())

    assert await jobs.close(TODAY) is None  # delivered again
    assert stored(values_database, 1) == first  # the same rows, not written again
    assert await PostgresDailyValues(pool, "USD").fill(readers_only=True) == 0

    # A deposit after the close: today's stored value no longer counts; the read computes today's afresh.
    deposit(values_database, 1, 50, datetime.now(UTC))
    history = await PostgresValueHistory(pool, "USD").history(1, YESTERDAY, TODAY)
    assert [(v.day, v.value) for v in history.values] == [(YESTERDAY, Decimal(110)), (TODAY, Decimal(170))]
    assert [f.amount for f in history.flows] == [Decimal(100), Decimal(50)]

    # A user created after the close has no stored day: the read computes them, right, and stores them.
    owner(values_database, 2)
    history = await PostgresValueHistory(pool, "USD").history(2, YESTERDAY, TODAY)
    assert [(v.day, v.value) for v in history.values] == [(YESTERDAY, Decimal(110)), (TODAY, Decimal(120))]
    assert [(d, v) for d, v, _ in stored(values_database, 2)] == [(YESTERDAY, Decimal(110)), (TODAY, Decimal(120))]


async def test_a_close_recorded_for_a_past_day_moves_every_users_stored_days_back_to_it(
    values_database: str, pool: AsyncConnectionPool
) -> None:
    owner(values_database, 3)
    daily_values = PostgresDailyValues(pool, "USD")
    await daily_values.fill()
    before = stored(values_database, 3)
    assert [d for d, _, _ in before][:1] == [YESTERDAY]
    with psycopg.connect(values_database, autocommit=True) as conn:
        conn.execute("UPDATE daily_prices SET close = 11 WHERE instrument_id = 1 AND day = %s", (YESTERDAY,))
    assert set((await stored_answers(pool, 3, 0.04)).values()) == {True}
    assert await daily_values.invalidate_from(YESTERDAY) >= 1
    assert set((await stored_answers(pool, 3, 0.04)).values()) == {False}  # they had yesterday's old close
    history = await PostgresValueHistory(pool, "USD").history(3, YESTERDAY, YESTERDAY)
    assert [v.value for v in history.values] == [Decimal(115)]  # 60 + 5 x 11, computed again
    assert stored(values_database, 3)[0][:2] == (YESTERDAY, Decimal(115))  # and stored again
    assert set((await stored_answers(pool, 3, 0.04)).values()) == {True}  # with the answers, from them


async def test_a_split_leaves_the_stored_answers_what_a_computation_from_the_split_trades_and_closes_gives(
    values_database: str, pool: AsyncConnectionPool
) -> None:
    owner(values_database, 6)
    await close_today(pool)  # as the first test did, if it ran: this one stands alone too
    await PostgresDailyValues(pool, "USD").fill(6)
    assert set((await stored_answers(pool, 6, 0.04)).values()) == {True}
    store = PostgresCorporateActionStore(pool)
    draft = CorporateActionDraft(kind="split", symbol="DV1", ex_date=TODAY + timedelta(days=1), ratio=Fraction(2))
    await store.record(draft, audit=AuditEntry.by(CONTRACT_ACTOR, CORPORATE_ACTION_RECORD, "instrument:DV1"))
    done = await store.run(TODAY, audit=AuditEntry.by(CONTRACT_ACTOR, CORPORATE_ACTION_RUN, "market-day:test"))
    assert done is not None
    assert done.splits == 1  # twice the shares, at half the closes: every day's value unchanged

    assert set((await stored_answers(pool, 6, 0.04)).values()) == {True}
    source = PostgresValueHistory(pool, "USD")
    past = await source.past(6, "1M", *period_of("1M"))
    assert past is not None
    with psycopg.connect(values_database, autocommit=True) as conn:  # nothing stored: all computed afresh
        for table in ("performance_pasts", "daily_value_marks", "daily_values"):
            conn.execute(sql.SQL("DELETE FROM {} WHERE user_id = 6").format(sql.Identifier(table)))
    history = await source.history(6, *period_of("1M"))
    assert [v.day for v in history.values] == [YESTERDAY, TODAY]
    assert encode_series(history.values) == past.series
    assert set((await stored_answers(pool, 6, 0.04)).values()) == {True}  # and stored again
