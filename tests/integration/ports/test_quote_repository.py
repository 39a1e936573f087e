"""One contract for the quote store, run against the in-memory twin and the real PostgreSQL adapter.

The real side works in the contract suites' own database (see conftest.py): its versions and instruments
stay out of the demo database the rest of the session reads.
"""

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.errors import UnknownSymbolError
from domain.models.audit import QUOTES_INGEST, Actor, AuditEntry, AuditQuery, change_digest
from domain.models.quotes import Quote, QuoteUpdate
from tests.integration.ports.conftest import CONTRACT_ACTOR, World, closes_on, new_id, quote_of

pytestmark = pytest.mark.integration
AUDIT = AuditEntry.by(CONTRACT_ACTOR, QUOTES_INGEST, "quotes", {"note": "as the service sends it"})

D1, D2, D3, D4, D5 = (date(2026, 3, 2) + timedelta(days=i) for i in range(5))


async def current(world: World, instrument_id: int) -> Quote:
    return (await world.quotes.load_snapshot("USD")).quotes[instrument_id]


# --- versions ---------------------------------------------------------------------------------------
async def test_each_ingest_publishes_the_next_version(world: World):
    a = await world.instrument(quote_of(0, price="10"))
    before = await world.quotes.latest_version()
    first = await world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=Decimal("11"))], audit=AUDIT)
    second = await world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=Decimal("12"))], audit=AUDIT)
    assert before < first < second
    assert await world.quotes.latest_version() == second
    snapshot = await world.quotes.load_snapshot("USD")
    assert snapshot.version == second
    assert snapshot.quotes[a.id].price == Decimal("12")


async def test_concurrent_ingests_get_distinct_versions_and_the_newest_version_wins(world: World):
    a = await world.instrument(quote_of(0, price="10"))
    prices = [Decimal(20 + i) for i in range(6)]
    versions = await asyncio.gather(
        *(world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=p)], audit=AUDIT) for p in prices)
    )
    assert len(set(versions)) == len(versions)
    assert await world.quotes.latest_version() == max(versions)
    newest = prices[versions.index(max(versions))]
    assert (await current(world, a.id)).price == newest  # versions are visible in the order they were numbered


# --- ingest rules -------------------------------------------------------------------------------------
async def test_a_first_quote_starts_the_day_at_its_price(world: World):
    a = await world.instrument()
    started = datetime.now(UTC) - timedelta(seconds=1)
    await world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=Decimal("50"))], audit=AUDIT)
    quote = await current(world, a.id)
    assert (quote.price, quote.bid, quote.ask, quote.previous_close) == (Decimal(50),) * 4
    assert (quote.day_high, quote.day_low, quote.volume) == (Decimal(50), Decimal(50), 0)
    assert quote.as_of >= started
    assert quote.as_of.utcoffset() == timedelta(0)


async def test_the_day_range_widens_and_the_previous_close_stays(world: World):
    a = await world.instrument(
        quote_of(0, price="100", bid="99", ask="101", previous_close="95", day_high="105", day_low="98", volume=1000)
    )
    await world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=Decimal("110"))], audit=AUDIT)
    up = await current(world, a.id)
    assert (up.previous_close, up.day_high, up.day_low, up.volume) == (Decimal(95), Decimal(110), Decimal(98), 1000)
    await world.quotes.apply_quotes(
        [QuoteUpdate(symbol=a.symbol, price=Decimal("90"), bid=Decimal("89.5"), ask=Decimal("90.5"), volume=7)],
        audit=AUDIT,
    )
    down = await current(world, a.id)
    assert (down.bid, down.ask) == (Decimal("89.5"), Decimal("90.5"))  # given: taken as they are
    assert (down.previous_close, down.day_high, down.day_low) == (Decimal(95), Decimal(110), Decimal(90))
    assert down.volume == 7


async def test_a_missing_bid_or_ask_keeps_the_relative_spread_on_the_prices_decimals(world: World):
    a = await world.instrument(quote_of(0, price="3", bid="2.9", ask="3.1"))
    await world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=Decimal("1"))], audit=AUDIT)
    quote = await current(world, a.id)
    assert (quote.bid, quote.ask) == (Decimal("0.97"), Decimal("1.03"))  # at least 2 places, never 0.96666667
    await world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=Decimal("2"), bid=Decimal("1.9"))], audit=AUDIT)
    quote = await current(world, a.id)
    assert (quote.bid, quote.ask) == (Decimal("1.9"), Decimal("2.06"))  # the ask from the old spread
    b = await world.instrument(quote_of(1, price="3", bid="2.9", ask="3.1"))
    await world.quotes.apply_quotes([QuoteUpdate(symbol=b.symbol, price=Decimal("1.2345"))], audit=AUDIT)
    quote = await current(world, b.id)
    assert (quote.bid, quote.ask) == (Decimal("1.1934"), Decimal("1.2757"))  # the price's 4 places, half up


async def test_the_ask_never_falls_below_the_bid(world: World):
    a = await world.instrument(quote_of(0, price="100", bid="99", ask="101"))
    await world.quotes.apply_quotes(
        [QuoteUpdate(symbol=a.symbol, price=Decimal("100"), bid=Decimal("102"))], audit=AUDIT
    )
    quote = await current(world, a.id)
    assert (quote.bid, quote.ask) == (Decimal(102), Decimal(102))


async def test_prices_are_kept_to_eight_decimal_places(world: World):
    a = await world.instrument()
    await world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=Decimal("1.123456785"))], audit=AUDIT)
    quote = await current(world, a.id)
    assert (quote.price, quote.bid, quote.ask, quote.day_high) == (Decimal("1.12345679"),) * 4


async def test_an_unknown_symbol_refuses_the_whole_batch(world: World):
    a = await world.instrument(quote_of(0, price="10"))
    before = await world.quotes.latest_version()
    batch = [QuoteUpdate(symbol=a.symbol, price=Decimal("20")), QuoteUpdate(symbol="NOPE-CONTRACT", price=Decimal(1))]
    with pytest.raises(UnknownSymbolError) as refused:
        await world.quotes.apply_quotes(batch, audit=AUDIT)
    assert refused.value.field == "quotes[1].symbol"
    assert await world.quotes.latest_version() == before
    assert (await current(world, a.id)).price == Decimal(10)


async def test_an_ingest_is_audited_with_its_version_and_a_refused_one_is_not(world: World):
    a = await world.instrument(quote_of(0, price="10"))
    feed = Actor(name=f"system:feed-{new_id()}", request_id=None)
    entry = AuditEntry.by(feed, QUOTES_INGEST, "quotes", {"quotes": [[a.symbol, "11"]]})
    version = await world.quotes.apply_quotes([QuoteUpdate(symbol=a.symbol, price=Decimal("11"))], audit=entry)
    with pytest.raises(UnknownSymbolError):
        await world.quotes.apply_quotes([QuoteUpdate(symbol="NOPE-CONTRACT", price=Decimal(1))], audit=entry)
    page = await world.audit.page(AuditQuery(actor=feed.name), limit=10, before=None)
    assert [(r.action, r.target, r.request_id) for r in page.items] == [("quotes.ingest", "quotes", None)]
    assert page.items[0].digest == change_digest({"quotes": [[a.symbol, "11"]], "version": version})


# --- snapshot ---------------------------------------------------------------------------------------
async def test_the_snapshot_lists_every_instrument_and_the_quotes_there_are(world: World):
    quoted = await world.instrument(quote_of(0, price="42.5", bid="42", ask="43", volume=9), currency="EUR")
    unquoted = await world.instrument(asset_class="bond")
    snapshot = await world.quotes.load_snapshot("USD")
    assert snapshot.version == await world.quotes.latest_version()
    assert snapshot.instruments[quoted.id] == quoted
    assert snapshot.instruments[unquoted.id] == unquoted
    assert unquoted.id not in snapshot.quotes
    quote = snapshot.quotes[quoted.id]
    assert (quote.price, quote.bid, quote.ask, quote.volume) == (Decimal("42.5"), Decimal(42), Decimal(43), 9)
    assert snapshot.as_of is not None
    assert snapshot.as_of >= quote.as_of


# --- daily closes -----------------------------------------------------------------------------------
async def test_daily_closes_are_the_last_days_oldest_first(world: World):
    a = await world.instrument(closes=closes_on((D3, "13"), (D1, "11"), (D5, "15"), (D2, "12"), (D4, "14")))
    assert [c.day for c in await world.quotes.daily_closes(a.id, 3)] == [D3, D4, D5]
    assert [c.close for c in await world.quotes.daily_closes(a.id, 3)] == [Decimal(13), Decimal(14), Decimal(15)]
    assert [c.day for c in await world.quotes.daily_closes(a.id, 50)] == [D1, D2, D3, D4, D5]
    assert await world.quotes.daily_closes(a.id, 0) == ()
    no_history = await world.instrument()
    assert await world.quotes.daily_closes(no_history.id, 5) == ()


async def test_daily_closes_of_many_instruments_in_one_call(world: World):
    a = await world.instrument(closes=closes_on((D2, "2"), (D1, "1"), (D3, "3")))
    b = await world.instrument(closes=closes_on((D5, "50")))
    none = await world.instrument()
    closes = await world.quotes.daily_closes_many([b.id, none.id, a.id], 2)
    assert closes == {a.id: closes_on((D2, "2"), (D3, "3")), b.id: closes_on((D5, "50"))}
    assert await world.quotes.daily_closes_many([a.id, b.id], 0) == {}
    assert await world.quotes.daily_closes_many([], 5) == {}
