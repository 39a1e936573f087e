"""Trades settle in cash by the service's policy: fees, the price policy and its tolerance, AUTO_FX."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.adapters.memory.trades import InMemoryTradeStore
from domain.errors import InsufficientCashError, InvalidRequestError
from domain.models.audit import Actor
from domain.models.ledger import CashMove, FeePolicy
from domain.models.quotes import Instrument, Quote
from domain.models.trades import Order
from domain.services.ledger import LedgerService
from domain.services.market_data import QuoteBook
from domain.services.trades import TradePolicy, TradeService

ACTOR = Actor(name="user:1")
USER = 1


def quote(iid: int, price: str) -> Quote:
    p = Decimal(price)
    return Quote(
        instrument_id=iid, price=p, bid=p, ask=p, previous_close=p, day_high=p, day_low=p, volume=1,
        as_of=datetime(2026, 10, 30, tzinfo=UTC),
    )  # fmt: skip


async def world(policy: TradePolicy) -> tuple[TradeService, LedgerService, InMemoryTradeStore, QuoteBook]:
    repo = InMemoryQuoteRepository()
    listed = (
        (1, "SAP", "equity", "EUR", "100"),
        (2, "CASH-EUR", "cash", "USD", "1.1"),
        (3, "CASH-USD", "cash", "USD", "1"),
    )
    for iid, symbol, cls, currency, price in listed:
        repo.instruments[iid] = Instrument(id=iid, symbol=symbol, name=symbol, asset_class=cls, currency=currency,
                                           exchange="X")  # fmt: skip
        repo.publish(quote(iid, price))
    book = QuoteBook(repo, "USD")
    await book.refresh()
    holdings = InMemoryHoldingsRepository()
    holdings.add_user(USER)
    store = InMemoryTradeStore(holdings, repo)

    async def invalidate(user_id: int) -> None:
        return None

    trades = TradeService(store, invalidate, quotes=book, policy=policy)
    return trades, LedgerService(store.ledger, invalidate), store, book


def order(quantity: str, price: str, side: str = "buy") -> Order:
    return Order(symbol="SAP", side=side, quantity=Decimal(quantity), price=Decimal(price))  # type: ignore[arg-type]


async def deposit(ledger: LedgerService, amount: str, currency: str) -> None:
    await ledger.move(USER, CashMove(kind="deposit", amount=Decimal(amount), currency=currency), actor=ACTOR)


async def test_the_fee_is_basis_points_of_the_gross_amount_with_a_minimum():
    trades, ledger, _, _ = await world(TradePolicy(fees=FeePolicy(bps=Decimal(25), minimum=Decimal(2))))
    await deposit(ledger, "2000", "EUR")
    big = await trades.place(USER, order("10", "100"), actor=ACTOR)
    assert (big.trade.fee, big.cash) == (Decimal("2.5"), {"EUR": Decimal("997.5")})
    small = await trades.place(USER, order("1", "100", "sell"), actor=ACTOR)
    assert (small.trade.fee, small.cash) == (Decimal(2), {"EUR": Decimal("1095.5")})


async def test_a_client_price_too_far_from_the_quote_is_refused_naming_price():
    trades, ledger, store, _ = await world(TradePolicy(tolerance_bps=100))
    await deposit(ledger, "2000", "EUR")
    with pytest.raises(InvalidRequestError) as refused:
        await trades.place(USER, order("1", "101.01"), actor=ACTOR)
    assert refused.value.field == "price"
    placed = await trades.place(USER, order("1", "99"), actor=ACTOR)  # exactly 1 % away
    assert placed.trade.price == Decimal(99)  # the client's price
    assert len(store.trades) == 1


async def test_the_market_policy_trades_at_the_quote():
    trades, ledger, _, _ = await world(TradePolicy(price="market"))
    await deposit(ledger, "2000", "EUR")
    placed = await trades.place(USER, order("3", "80"), actor=ACTOR)
    assert (placed.trade.price, placed.cash) == (Decimal(100), {"EUR": Decimal(1700)})


async def test_without_auto_fx_a_buy_short_of_its_currency_is_refused_naming_amount():
    trades, ledger, store, _ = await world(TradePolicy())
    await deposit(ledger, "5000", "USD")
    with pytest.raises(InsufficientCashError) as refused:
        await trades.place(USER, order("10", "100"), actor=ACTOR)
    assert refused.value.field == "amount"
    assert store.trades == []
    assert [b.amount for b in await ledger.balances(USER)] == [Decimal(5000)]


async def test_with_auto_fx_the_shortfall_converts_from_the_base_currency_at_the_rate():
    trades, ledger, _, _ = await world(TradePolicy(auto_fx=True, fees=FeePolicy(minimum=Decimal(1))))
    await deposit(ledger, "200", "EUR")
    await deposit(ledger, "5000", "USD")
    placed = await trades.place(USER, order("10", "100"), actor=ACTOR)  # 1001 EUR due, 200 held
    assert placed.cash == {"EUR": Decimal(0), "USD": Decimal("5000") - Decimal("801") * Decimal("1.1")}
    kinds = [e.kind for e in (await ledger.entries(USER)).items]
    assert kinds == ["fee", "trade", "fx", "deposit", "deposit"]


async def test_at_market_a_repeated_key_replays_though_the_quote_moved():
    trades, ledger, _, book = await world(TradePolicy(price="market"))
    await deposit(ledger, "2000", "EUR")
    first = await trades.place(USER, order("2", "95"), "k", actor=ACTOR)
    assert first.trade.price == Decimal(100)
    book._repository.publish(quote(1, "120"))  # type: ignore[attr-defined]  # the market moves
    assert await book.refresh()
    again = await trades.place(USER, order("2", "95"), "k", actor=ACTOR)
    assert (again.replayed, again.trade) == (True, first.trade)
    with pytest.raises(InvalidRequestError):
        await trades.place(USER, order("3", "95"), "k", actor=ACTOR)
    later = await trades.place(USER, order("2", "95"), "k2", actor=ACTOR)
    assert later.trade.price == Decimal(120)


async def test_a_trade_too_small_to_move_a_cent_of_a_cent_books_no_cash():
    trades, ledger, _, _ = await world(TradePolicy())
    placed = await trades.place(USER, order("0.1", "0.00000001"), actor=ACTOR)  # 1e-9: zero at 8 places
    assert (placed.trade.fee, placed.cash) == (0, {})
    assert (await ledger.entries(USER)).items == ()
