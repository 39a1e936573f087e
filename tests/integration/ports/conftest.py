"""What the PostgreSQL contract suites share: a database of their own on the session's server, and a `World`
that puts the same users, instruments, quotes and closes in front of the twins or the real adapters.

The database is created for these suites (and dropped after them), so their instruments, quote versions and
trades never show in the snapshots, counts and pages the rest of the session reads from the demo database.
"""

import itertools
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from cli.embedded import EmbeddedServers
from config.settings import Settings
from config.wiring.resources import pool_config
from domain.adapters.clock import SystemClock
from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.ledger import InMemoryLedger
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.adapters.memory.reports import InMemoryReportRepository, InMemoryReportStatistics
from domain.adapters.memory.trades import InMemoryTradeStore
from domain.adapters.memory.users import InMemoryUserStore
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.audit import PostgresAuditLog
from domain.adapters.postgres.holdings import PostgresHoldingsRepository
from domain.adapters.postgres.ledger import PostgresLedger
from domain.adapters.postgres.migrate import apply_migrations
from domain.adapters.postgres.pool import Pool, open_pool
from domain.adapters.postgres.quotes import PostgresQuoteRepository
from domain.adapters.postgres.report_stats import PostgresReportStatistics
from domain.adapters.postgres.reports import PostgresReportRepository
from domain.adapters.postgres.trades import PostgresTradeStore
from domain.adapters.postgres.users import PostgresUserStore
from domain.models.audit import Actor
from domain.models.holdings import Holding
from domain.models.quotes import AssetClass, DailyClose, Instrument, Quote
from domain.models.users import User
from domain.ports.audit import AuditLog
from domain.ports.holdings import HoldingsRepository
from domain.ports.ledger import Ledger
from domain.ports.quotes import QuoteRepository
from domain.ports.reports import ReportRepository, ReportStatistics
from domain.ports.trades import TradeStore
from domain.ports.users import UserStore
from tests.conftest import with_settings

# Users and instruments get ids (and symbols) unique in the session: no two tests share a row. Users the
# user store creates take ids from its sequence, far above these.
_ids = itertools.count(1)
CONTRACT_ACTOR = Actor(name="operator:contract", request_id="contract-request")
FIRST_CREATED_ID = 1_000_000_000


def new_id() -> int:
    return next(_ids)


class World:
    """The ports of one side (twins or real adapters) and the seeding both sides share."""

    holdings: HoldingsRepository
    quotes: QuoteRepository
    trades: TradeStore
    reports: ReportRepository
    statistics: ReportStatistics
    audit: AuditLog
    users: UserStore
    ledger: Ledger

    async def user(self, *lots: Holding) -> int:
        """A new user holding `lots` (the instruments must exist)."""
        raise NotImplementedError

    async def instrument(
        self,
        quote: Quote | None = None,
        closes: Sequence[DailyClose] = (),
        *,
        asset_class: AssetClass = "equity",
        currency: str = "USD",
    ) -> Instrument:
        """A new instrument, with its latest quote (its `instrument_id` is replaced) and daily closes."""
        raise NotImplementedError


def listing(instrument_id: int, asset_class: AssetClass, currency: str) -> Instrument:
    return Instrument(
        id=instrument_id,
        symbol=f"CT{instrument_id}",
        name=f"Contract test {instrument_id}",
        asset_class=asset_class,
        currency=currency,
        exchange="TEST",
    )


def quote_of(instrument_id: int, **prices: str | int) -> Quote:
    """A seeded quote: `price`, and optionally bid, ask, previous_close, day_high, day_low (default: the price)."""
    p = Decimal(prices["price"])

    def get(name: str) -> Decimal:
        return Decimal(prices.get(name, p))

    return Quote(
        instrument_id=instrument_id, price=p, bid=get("bid"), ask=get("ask"), previous_close=get("previous_close"),
        day_high=get("day_high"), day_low=get("day_low"), volume=int(prices.get("volume", 0)),
        as_of=datetime.now(UTC),
    )  # fmt: skip


class MemoryWorld(World):
    def __init__(self) -> None:
        clock = SystemClock()  # the twins' "now()" moves, as the database server's does
        self._holdings = InMemoryHoldingsRepository()
        audit = InMemoryAuditLog(clock)
        self._quotes = InMemoryQuoteRepository(clock, audit)
        self._reports = InMemoryReportRepository({}, clock)
        self.holdings = self._holdings
        self.quotes = self._quotes
        self.ledger = InMemoryLedger(self._holdings, clock, audit)
        self.trades = InMemoryTradeStore(self._holdings, self._quotes, clock, audit, ledger=self.ledger)
        self.reports = self._reports
        self.statistics = InMemoryReportStatistics(self._reports)
        self.audit = audit
        self._users = InMemoryUserStore(
            audit, clock, holdings=self._holdings, reports=self._reports, first_id=FIRST_CREATED_ID
        )
        self.users = self._users

    async def user(self, *lots: Holding) -> int:
        user_id = new_id()
        self._users.add(seeded_user(user_id))
        self._holdings.add_user(user_id, *lots)
        return user_id

    async def instrument(
        self,
        quote: Quote | None = None,
        closes: Sequence[DailyClose] = (),
        *,
        asset_class: AssetClass = "equity",
        currency: str = "USD",
    ) -> Instrument:
        instrument = listing(new_id(), asset_class, currency)
        self._quotes.instruments[instrument.id] = instrument
        if quote is not None:
            self._quotes.quotes[instrument.id] = _with_id(quote, instrument.id)
        if closes:
            self._quotes.closes[instrument.id] = sorted(closes, key=lambda c: c.day)
        return instrument


class PostgresWorld(World):
    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self.holdings = PostgresHoldingsRepository(pool)
        self.quotes = PostgresQuoteRepository(pool)
        self.trades = PostgresTradeStore(pool)
        self.ledger = PostgresLedger(pool)
        self.reports = PostgresReportRepository(pool)
        self.statistics = PostgresReportStatistics(pool)
        self.audit = PostgresAuditLog(pool)
        self.users = PostgresUserStore(pool)

    async def user(self, *lots: Holding) -> int:
        user_id = new_id()
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO users (id, email, name) VALUES (%s, %s, %s)",
                (user_id, f"user{user_id}@example.com", f"User {user_id}"),
            )
            for lot in lots:
                await conn.execute(
                    "INSERT INTO holdings (user_id, instrument_id, quantity, average_cost) VALUES (%s, %s, %s, %s)",
                    (user_id, lot.instrument_id, lot.quantity, lot.average_cost),
                )
        return user_id

    async def instrument(
        self,
        quote: Quote | None = None,
        closes: Sequence[DailyClose] = (),
        *,
        asset_class: AssetClass = "equity",
        currency: str = "USD",
    ) -> Instrument:
        i = listing(new_id(), asset_class, currency)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO instruments (id, symbol, name, asset_class, currency, exchange)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (i.id, i.symbol, i.name, i.asset_class, i.currency, i.exchange),
            )
            if quote is not None:
                q = quote
                await conn.execute(
                    "INSERT INTO quotes (instrument_id, price, bid, ask, previous_close, day_high, day_low, volume,"
                    " as_of) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (i.id, q.price, q.bid, q.ask, q.previous_close, q.day_high, q.day_low, q.volume, q.as_of),
                )
            for close in closes:
                await conn.execute(
                    "INSERT INTO daily_prices (instrument_id, day, close) VALUES (%s, %s, %s)",
                    (i.id, close.day, close.close),
                )
        return i


def seeded_user(user_id: int) -> User:
    """What `World.user` seeds: the PostgreSQL side inserts the same row."""
    return User(
        id=user_id, email=f"user{user_id}@example.com", name=f"User {user_id}", external_id=None,
        base_currency="USD", created_at=datetime.now(UTC), updated_at=None,
    )  # fmt: skip


def _with_id(quote: Quote, instrument_id: int) -> Quote:
    return Quote(
        instrument_id=instrument_id, price=quote.price, bid=quote.bid, ask=quote.ask,
        previous_close=quote.previous_close, day_high=quote.day_high, day_low=quote.day_low, volume=quote.volume,
        as_of=quote.as_of,
    )  # fmt: skip


def closes_on(*days_and_closes: tuple[date, str]) -> tuple[DailyClose, ...]:
    return tuple(DailyClose(day=day, close=Decimal(close)) for day, close in days_and_closes)


@pytest.fixture(scope="package")
def contract_database(servers: EmbeddedServers) -> Iterator[str]:
    """A database of these suites' own on the session's server, migrated, without demo data."""
    server_url = servers.database_url
    name = f"folio_contracts_{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = server_url.rsplit("/", 1)[0] + "/" + name
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:  # created users never take a seeded user's id
        conn.execute("SELECT setval('users_id_seq', %s, false)", (FIRST_CREATED_ID,))
    yield url
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(drop)


@pytest.fixture(scope="package")
async def contract_pool(contract_database: str, settings: Settings) -> AsyncIterator[Pool]:
    config = pool_config(with_settings(settings, database_url=contract_database), "folio-test-contracts")
    config.min_size, config.max_size = 2, 8
    pool = await open_pool(config, NullMetrics())
    yield pool
    await pool.close()


@pytest.fixture(scope="package")
async def pooled_contract_pool(
    contract_database: str, settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[Pool]:
    """The same database through the suite's PgBouncer in transaction mode (DATABASE_POOLER=pgbouncer)."""
    bouncer = request.getfixturevalue("pgbouncer")  # skips these cases, saying why, where PgBouncer cannot be had
    changes = {"database_url": bouncer.url(contract_database.rsplit("/", 1)[1]), "database_pooler": "pgbouncer"}
    config = pool_config(with_settings(settings, **changes), "folio-test-contracts-pgbouncer")
    config.min_size, config.max_size = 2, 8
    pool = await open_pool(config, NullMetrics())
    yield pool
    await pool.close()


@pytest.fixture(params=["memory", "postgres", "pgbouncer"])
def world(request: pytest.FixtureRequest, contract_pool: Pool) -> World:
    if request.param == "memory":
        return MemoryWorld()
    if request.param == "pgbouncer":
        return PostgresWorld(request.getfixturevalue("pooled_contract_pool"))
    return PostgresWorld(contract_pool)
