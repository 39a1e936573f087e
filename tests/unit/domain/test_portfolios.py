from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import pytest

from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.adapters.null_metrics import NullMetrics
from domain.errors import UserNotFoundError
from domain.models.holdings import Holding
from domain.models.quotes import Instrument, Quote
from domain.services.market_data import QuoteBook
from domain.services.portfolios import PortfolioService

AT = datetime(2026, 10, 30, 21, 0, tzinfo=UTC)


def quote(iid: int, price: str) -> Quote:
    p = Decimal(price)
    return Quote(instrument_id=iid, price=p, bid=p, ask=p, previous_close=p, day_high=p, day_low=p, volume=1, as_of=AT)


@pytest.fixture
def market() -> InMemoryQuoteRepository:
    repo = InMemoryQuoteRepository()
    for inst in (
        Instrument(id=1, symbol="AAPL", name="Apple", asset_class="equity", currency="USD", exchange="NASDAQ"),
        Instrument(id=2, symbol="SAP", name="SAP", asset_class="equity", currency="EUR", exchange="XETRA"),
        Instrument(id=3, symbol="CASH-EUR", name="Euro", asset_class="cash", currency="USD", exchange="FX"),
        Instrument(id=4, symbol="CASH-USD", name="US dollar", asset_class="cash", currency="USD", exchange="FX"),
    ):
        repo.instruments[inst.id] = inst
    repo.publish(quote(1, "200"), quote(2, "100"), quote(3, "1.10"), quote(4, "1"))
    return repo


async def service(market: InMemoryQuoteRepository, holdings: InMemoryHoldingsRepository) -> PortfolioService:
    book = QuoteBook(market, "USD")
    await book.refresh()
    return PortfolioService(holdings, book.current, metrics=NullMetrics())


async def test_values_holdings_at_current_quotes_with_totals_in_base_currency(market):
    holdings = InMemoryHoldingsRepository()
    holdings.add_user(
        7,
        Holding(instrument_id=1, quantity=Decimal("10"), average_cost=Decimal("150")),
        Holding(instrument_id=2, quantity=Decimal("5"), average_cost=Decimal("120")),
    )
    portfolio, _ = await (await service(market, holdings)).read(7)

    aapl, sap = portfolio.holdings  # largest base value first
    assert (aapl.symbol, aapl.market_value, aapl.cost_basis, aapl.unrealized_pnl) == ("AAPL", 2000, 1500, 500)
    assert aapl.unrealized_pnl_pct == Decimal("33.33")
    # SAP: 5 x 100 EUR = 500 EUR = 550 USD at 1.10; cost 600 EUR = 660 USD.
    assert (sap.market_value, sap.market_value_base, sap.unrealized_pnl) == (500, Decimal("550.00"), -100)
    assert portfolio.total_market_value == Decimal("2550.00")
    assert portfolio.total_cost_basis == Decimal("2160.00")
    assert portfolio.total_unrealized_pnl == Decimal("390.00")
    assert aapl.weight + sap.weight == Decimal("100.00")
    assert portfolio.quotes_version == 1


async def test_refresh_picks_up_new_version(market):
    holdings = InMemoryHoldingsRepository()
    holdings.add_user(7, Holding(instrument_id=1, quantity=Decimal("10"), average_cost=Decimal("150")))
    book = QuoteBook(market, "USD")
    await book.refresh()
    svc = PortfolioService(holdings, book.current, metrics=NullMetrics())
    market.publish(quote(1, "210"))
    assert await book.refresh() is True
    assert await book.refresh() is False
    assert (await svc.read(7))[0].total_market_value == Decimal("2100.00")


async def test_user_without_holdings_has_an_empty_portfolio(market):
    holdings = InMemoryHoldingsRepository()
    holdings.add_user(8)
    portfolio, _ = await (await service(market, holdings)).read(8)
    assert portfolio.holdings == ()
    assert portfolio.total_market_value == 0
    assert portfolio.total_unrealized_pnl_pct == 0


async def test_unknown_user_is_not_found(market):
    with pytest.raises(UserNotFoundError):
        await (await service(market, InMemoryHoldingsRepository())).read(404)


async def test_the_day_change_is_against_each_previous_close_per_holding_and_in_total(market):
    def moved(iid: int, price: str, previous_close: str) -> Quote:
        return msgspec.structs.replace(quote(iid, price), previous_close=Decimal(previous_close))

    market.publish(moved(1, "200", "190"), moved(2, "100", "104"))
    holdings = InMemoryHoldingsRepository()
    holdings.add_user(
        7,
        Holding(instrument_id=1, quantity=Decimal("10"), average_cost=Decimal("150")),
        Holding(instrument_id=2, quantity=Decimal("5"), average_cost=Decimal("120")),
    )
    portfolio, _ = await (await service(market, holdings)).read(7)
    aapl, sap = portfolio.holdings
    assert (aapl.day_change, aapl.day_change_pct) == (Decimal("100.00"), Decimal("5.26"))  # 2000 vs 1900
    assert (sap.day_change, sap.day_change_pct) == (Decimal("-20.00"), Decimal("-3.85"))  # 500 vs 520 EUR
    # In USD at 1.10: 2000 + 550 now against 1900 + 572 at the previous closes.
    assert portfolio.total_day_change == Decimal("78.00")
    assert portfolio.total_day_change_pct == Decimal("3.16")


async def test_an_unmoved_or_never_quoted_holding_has_no_day_change(market):
    holdings = InMemoryHoldingsRepository()
    market.instruments[5] = Instrument(
        id=5, symbol="NEW", name="New", asset_class="equity", currency="USD", exchange="X"
    )
    holdings.add_user(
        8,
        Holding(instrument_id=1, quantity=Decimal("3"), average_cost=Decimal("150")),
        Holding(instrument_id=5, quantity=Decimal("2"), average_cost=Decimal("10")),
    )
    portfolio, _ = await (await service(market, holdings)).read(8)
    assert [(h.day_change, h.day_change_pct) for h in portfolio.holdings] == [(0, 0), (0, 0)]
    assert (portfolio.total_day_change, portfolio.total_day_change_pct) == (0, 0)
