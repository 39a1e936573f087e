"""One contract for the market day store, run against the in-memory twin and the real PostgreSQL adapter.

Both work in the contract suites' own database (conftest.py): a close rolls every quote there, and a run is
recorded per (job, day), so each test takes days of its own, later than any earlier test's.
"""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.adapters.memory.market_day import InMemoryMarketDayStore
from domain.adapters.postgres.market_day import PostgresMarketDayStore
from domain.models.audit import AuditEntry, AuditQuery
from domain.models.market_day import CLOSE_JOB, MARKET_CLOSE, REPORTS_PURGE, RETENTION_JOB
from domain.models.quotes import QuoteUpdate
from domain.ports.market_day import MarketDayStore
from tests.integration.ports.conftest import CONTRACT_ACTOR, MemoryWorld, PostgresWorld, World, quote_of

pytestmark = pytest.mark.integration
_weeks = itertools.count()
CLOSE_AUDIT = AuditEntry.by(CONTRACT_ACTOR, MARKET_CLOSE, "market-day:contract")
PURGE_AUDIT = AuditEntry.by(CONTRACT_ACTOR, REPORTS_PURGE, "market-day:contract")


def fresh_day() -> date:
    """A day later than every day an earlier test used (a week apart, so a test may use the next few)."""
    return date(2030, 1, 7) + timedelta(weeks=next(_weeks))


@pytest.fixture
def store(world: World) -> MarketDayStore:
    if isinstance(world, MemoryWorld):
        return InMemoryMarketDayStore(world._quotes, world._reports)
    assert isinstance(world, PostgresWorld)
    return PostgresMarketDayStore(world._pool)


async def test_a_close_records_each_last_price_and_starts_the_next_day(world: World, store: MarketDayStore):
    a = await world.instrument(quote_of(0, price="110", previous_close="100", day_high="112", day_low="99", volume=9))
    b = await world.instrument(quote_of(0, price="45.5", previous_close="50"))
    before = await world.quotes.latest_version()
    day = fresh_day()
    closed = await store.close_day(day, audit=CLOSE_AUDIT)
    assert closed is not None
    assert closed.closes >= 2  # every quoted instrument of the database
    assert closed.version > before
    assert await world.quotes.latest_version() == closed.version
    snapshot = await world.quotes.load_snapshot("USD")
    qa = snapshot.quotes[a.id]
    assert (qa.price, qa.previous_close, qa.day_high, qa.day_low, qa.volume) == (Decimal(110),) * 4 + (0,)
    assert snapshot.quotes[b.id].previous_close == Decimal("45.5")
    assert [(c.day, c.close) for c in await world.quotes.daily_closes(b.id, 3)] == [(day, Decimal("45.5"))]
    assert await store.last_run(CLOSE_JOB) == day
    page = await world.audit.page(AuditQuery(action=MARKET_CLOSE), limit=1, before=None)
    assert page.items[0].target == "market-day:contract"


async def test_a_second_close_of_the_same_day_changes_nothing(world: World, store: MarketDayStore):
    a = await world.instrument(quote_of(0, price="20", previous_close="18"))
    day = fresh_day()
    assert await store.close_day(day, audit=CLOSE_AUDIT) is not None
    version = await world.quotes.latest_version()
    await world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=Decimal(25))], audit=CLOSE_AUDIT)
    assert await store.close_day(day, audit=CLOSE_AUDIT) is None
    quote = (await world.quotes.load_snapshot("USD")).quotes[a.id]
    assert (quote.price, quote.previous_close) == (Decimal(25), Decimal(20))  # not rolled again
    assert [c.close for c in await world.quotes.daily_closes(a.id, 5)] == [Decimal(20)]
    assert await world.quotes.latest_version() == version + 1  # only the ingest published


async def test_a_later_day_closes_again_and_the_history_grows(world: World, store: MarketDayStore):
    a = await world.instrument(quote_of(0, price="7"))
    first = fresh_day()
    await store.close_day(first, audit=CLOSE_AUDIT)
    await store.close_day(first + timedelta(days=1), audit=CLOSE_AUDIT)
    assert [c.day for c in await world.quotes.daily_closes(a.id, 5)] == [first, first + timedelta(days=1)]
    assert await store.last_run(CLOSE_JOB) == first + timedelta(days=1)


async def test_retention_deletes_finished_reports_created_before_the_cutoff_once_per_day(
    world: World, store: MarketDayStore
):
    user = await world.user()
    if isinstance(world, MemoryWorld):
        world._reports.users[user] = (f"user{user}@example.com", f"User {user}")
    finished = (await world.reports.create(user, "finished", 60)).report.id
    claim = await world.reports.claim(finished, 60)
    assert claim is not None
    assert await world.reports.finish(claim, "succeeded", None)
    queued = (await world.reports.create(user, "queued", 60)).report.id
    day = fresh_day()
    long_ago = datetime.now(UTC) - timedelta(days=3650)
    assert await store.purge_reports(day, before=long_ago, audit=PURGE_AUDIT) is not None
    assert await world.reports.get(finished) is not None  # created after the cutoff: kept
    later = day + timedelta(days=1)
    deleted = await store.purge_reports(later, before=datetime.now(UTC) + timedelta(hours=1), audit=PURGE_AUDIT)
    assert deleted is not None
    assert deleted >= 1
    assert await world.reports.get(finished) is None
    assert await world.reports.document(finished) is None
    assert await world.reports.get(queued) is not None  # not finished: kept
    assert await store.purge_reports(later, before=datetime.now(UTC) + timedelta(hours=1), audit=PURGE_AUDIT) is None
    assert await store.last_run(RETENTION_JOB) == later
