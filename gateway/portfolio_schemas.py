"""A portfolio on the wire: each holding valued at the current quotes, and the totals in the base currency.

The fields and their order are the response's; both the regular handler and the fast lane
(gateway/hot_path.py, once per user and quote version) convert the domain's valuation through here.
"""

from datetime import datetime
from decimal import Decimal

import msgspec

from domain.models.holdings import Portfolio, ValuedCash, ValuedHolding
from domain.models.quotes import AssetClass
from domain.services.streams.wire import JsonPortfolioWire
from gateway.responses import json_encoder


class ValuedHoldingView(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    name: str
    asset_class: AssetClass
    currency: str  # the instrument's: every figure above `market_value_base` is in it
    quantity: Decimal
    average_cost: Decimal
    price: Decimal
    market_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_pct: Decimal
    day_change: Decimal
    day_change_pct: Decimal
    market_value_base: Decimal
    weight: Decimal


class CashView(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    amount: Decimal  # in `currency`
    amount_base: Decimal
    weight: Decimal


class PortfolioView(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    base_currency: str
    quotes_version: int
    quotes_as_of: datetime | None
    total_market_value: Decimal
    total_cost_basis: Decimal
    total_unrealized_pnl: Decimal
    total_unrealized_pnl_pct: Decimal
    total_day_change: Decimal
    total_day_change_pct: Decimal
    holdings: list[ValuedHoldingView]
    total_cash: Decimal
    cash: list[CashView]


def holding_view(h: ValuedHolding) -> ValuedHoldingView:
    return ValuedHoldingView(
        symbol=h.symbol,
        name=h.name,
        asset_class=h.asset_class,
        currency=h.currency,
        quantity=h.quantity,
        average_cost=h.average_cost,
        price=h.price,
        market_value=h.market_value,
        cost_basis=h.cost_basis,
        unrealized_pnl=h.unrealized_pnl,
        unrealized_pnl_pct=h.unrealized_pnl_pct,
        day_change=h.day_change,
        day_change_pct=h.day_change_pct,
        market_value_base=h.market_value_base,
        weight=h.weight,
    )


def portfolio_view(portfolio: Portfolio) -> PortfolioView:
    return PortfolioView(
        user_id=portfolio.user_id,
        base_currency=portfolio.base_currency,
        quotes_version=portfolio.quotes_version,
        quotes_as_of=portfolio.quotes_as_of,
        total_market_value=portfolio.total_market_value,
        total_cost_basis=portfolio.total_cost_basis,
        total_unrealized_pnl=portfolio.total_unrealized_pnl,
        total_unrealized_pnl_pct=portfolio.total_unrealized_pnl_pct,
        total_day_change=portfolio.total_day_change,
        total_day_change_pct=portfolio.total_day_change_pct,
        holdings=[holding_view(h) for h in portfolio.holdings],
        total_cash=portfolio.total_cash,
        cash=[cash_view(c) for c in portfolio.cash],
    )


def cash_view(c: ValuedCash) -> CashView:
    return CashView(currency=c.currency, amount=c.amount, amount_base=c.amount_base, weight=c.weight)


class PortfolioViewWire(JsonPortfolioWire):
    """An event's data: the portfolio exactly as `GET /api/user/{id}/portfolio` answers it (one line of JSON)."""

    def __init__(self) -> None:
        super().__init__(json_encoder)

    def holding_view(self, holding: ValuedHolding) -> object:
        return holding_view(holding)

    def cash_view(self, cash: ValuedCash) -> object:
        return cash_view(cash)

    def portfolio_view(self, portfolio: Portfolio) -> msgspec.Struct:
        return portfolio_view(portfolio)
