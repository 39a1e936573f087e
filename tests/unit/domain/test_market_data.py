import asyncio
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.adapters.memory.quotes import InMemoryQuoteRepository, InMemoryQuoteVersionBus
from domain.errors import InstrumentNotFoundError, InvalidRequestError, UnknownSymbolError
from domain.models.audit import Actor
from domain.models.quotes import DailyClose, Instrument, Quote, QuoteUpdate
from domain.services.market_data import MarketDataService, QuoteBook, QuoteFollower, quote_change
from domain.services.quote_simulator import QuoteSimulator, step_price

OPERATOR = Actor(name="operator:ada", request_id="r-1")

AT = datetime(2026, 10, 30, 20, tzinfo=UTC)


def quote(iid: int, price: str, **changes: str) -> Quote:
    p = Decimal(price)
    fields = {"bid": p, "ask": p, "previous_close": p, "day_high": p, "day_low": p}
    fields.update({k: Decimal(v) for k, v in changes.items()})
    return Quote(instrument_id=iid, price=p, volume=10, as_of=AT, **fields)


@pytest.fixture
def repo() -> InMemoryQuoteRepository:
    repo = InMemoryQuoteRepository()
    for iid, symbol, cls in ((1, "AAPL", "equity"), (2, "SAP", "equity"), (3, "CASH-USD", "cash")):
        inst = Instrument(id=iid, symbol=symbol, name=symbol, asset_class=cls, currency="USD", exchange="X")
        repo.instruments[iid] = inst
    repo.publish(quote(1, "100", bid="99", ask="101"), quote(2, "50"), quote(3, "1"))
    repo.closes[1] = [DailyClose(day=datetime(2026, 10, d, tzinfo=UTC).date(), close=Decimal(d)) for d in range(1, 31)]
    return repo


async def make_service(repo, bus=None, max_batch=10):
    book = QuoteBook(repo, "USD")
    await book.refresh()
    return MarketDataService(book, repo, bus or InMemoryQuoteVersionBus(), max_batch=max_batch)


async def test_ingest_publishes_a_version_announces_it_and_serves_it_here(repo):
    bus = InMemoryQuoteVersionBus()
    service = await make_service(repo, bus)
    version = await service.ingest([QuoteUpdate(symbol="AAPL", price=Decimal("110"))], actor=OPERATOR)
    assert bus.announced == [version]
    listing = service.listing("AAPL")
    assert listing.version == version
    q = listing.quote
    assert (q.price, q.previous_close, q.day_high, q.day_low) == (110, 100, 110, 100)
    assert (q.bid, q.ask) == (Decimal("108.9"), Decimal("111.1"))  # the relative spread is kept
    [record] = repo.audit.records
    assert (record.actor, record.action, record.target, record.request_id) == (
        "operator:ada", "quotes.ingest", "quotes", "r-1",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("updates", "field"),
    [
        ([], "quotes"),
        ([QuoteUpdate(symbol="AAPL", price=Decimal(1))] * 11, "quotes"),
        ([QuoteUpdate(symbol="AAPL", price=Decimal(0))], "quotes[0].price"),
        ([QuoteUpdate(symbol="AAPL", price=Decimal("Infinity"))], "quotes[0].price"),
        ([QuoteUpdate(symbol="AAPL", price=Decimal("1e13"))], "quotes[0].price"),
        ([QuoteUpdate(symbol="AAPL", price=Decimal(1), bid=Decimal(-1))], "quotes[0].bid"),
        ([QuoteUpdate(symbol="AAPL", price=Decimal(1), bid=Decimal(2), ask=Decimal(1))], "quotes[0].ask"),
        ([QuoteUpdate(symbol="AAPL", price=Decimal(1), volume=-1)], "quotes[0].volume"),
        ([QuoteUpdate(symbol="SAP", price=Decimal(1))] * 2, "quotes[1].symbol"),
    ],
)
async def test_ingest_rejects_bad_batches_naming_the_field_and_writes_nothing(repo, updates, field):
    service = await make_service(repo)
    with pytest.raises(InvalidRequestError) as caught:
        await service.ingest(updates, actor=OPERATOR)
    assert caught.value.field == field
    assert repo.version == 1


async def test_unknown_symbols_are_named(repo):
    service = await make_service(repo)
    batch = [QuoteUpdate(symbol="SAP", price=Decimal(1)), QuoteUpdate(symbol="NOPE", price=Decimal(1))]
    with pytest.raises(UnknownSymbolError) as caught:
        await service.ingest(batch, actor=OPERATOR)
    assert caught.value.field == "quotes[1].symbol"
    assert "NOPE" in caught.value.detail


async def test_listing_and_daily_closes(repo):
    service = await make_service(repo)
    with pytest.raises(InstrumentNotFoundError):
        service.listing("NOPE")
    closes = await service.daily_closes("AAPL", 3)
    assert [c.close for c in closes] == [28, 29, 30]
    with pytest.raises(InvalidRequestError) as caught:
        await service.daily_closes("AAPL", 0)
    assert caught.value.field == "days"


def test_quote_change():
    assert quote_change(quote(1, "110", previous_close="100")) == (Decimal(10), Decimal("10.00"))


async def test_the_follower_refreshes_at_once_when_nudged_and_polls_without_nudges(repo):
    book = QuoteBook(repo, "USD")
    await book.refresh()
    follower = QuoteFollower(book, poll_s=0.2)
    task = asyncio.create_task(follower.run())
    try:
        repo.publish(quote(2, "51"))
        follower.nudge(repo.version)
        await asyncio.sleep(0.05)
        assert book.current().version == repo.version  # long before the poll
        repo.publish(quote(2, "52"))  # nobody announces this one
        await asyncio.sleep(0.35)
        assert book.current().version == repo.version
    finally:
        task.cancel()


async def test_the_simulator_moves_a_share_of_non_cash_prices_through_ingest(repo):
    service = await make_service(repo)
    simulator = QuoteSimulator(service, rng=random.Random(1), fraction=1.0, volatility=0.01)
    version = await simulator.tick()
    assert version == repo.version == 2
    assert repo.quotes[3].price == 1  # cash (an FX rate) never moves
    assert {repo.quotes[1].price, repo.quotes[2].price} != {Decimal(100), Decimal(50)}


async def test_the_simulator_quotes_bid_and_ask_on_the_price_tick_keeping_the_spread(repo):
    service = await make_service(repo)
    simulator = QuoteSimulator(service, rng=random.Random(5), fraction=1.0, volatility=0.01)
    for _ in range(20):
        batch = {u.symbol: u for u in simulator.next_batch()}
        aapl, sap = batch["AAPL"], batch["SAP"]
        assert aapl.bid is not None
        assert aapl.ask is not None
        assert aapl.bid < aapl.price < aapl.ask
        assert aapl.bid.as_tuple().exponent == aapl.ask.as_tuple().exponent == aapl.price.as_tuple().exponent
        assert abs(aapl.bid / aapl.price - Decimal("0.99")) < Decimal("0.0001")  # 99 / 100, to the cent
        assert sap.bid == sap.price == sap.ask  # no spread stays no spread
        await service.ingest(list(batch.values()), actor=OPERATOR)


def test_a_price_step_is_small_positive_and_on_the_tick():
    rng = random.Random(7)
    for price in (Decimal("0.00012345"), Decimal("1.2345"), Decimal("5629"), Decimal("65432.1")):
        moved = step_price(price, rng, 0.002)
        assert moved > 0
        assert abs(moved / price - 1) < Decimal("0.02")
        assert -moved.as_tuple().exponent <= 8
