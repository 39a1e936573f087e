"""Folio's domain values: plain, typed, frozen msgspec Structs."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

import msgspec

AssetClass = Literal["equity", "etf", "bond", "crypto", "cash"]
ASSET_CLASSES: tuple[AssetClass, ...] = ("equity", "etf", "bond", "crypto", "cash")


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    symbol: str
    name: str
    asset_class: AssetClass
    currency: str
    exchange: str


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The latest quote of one instrument, in the instrument's currency."""

    instrument_id: int
    price: Decimal
    bid: Decimal
    ask: Decimal
    previous_close: Decimal
    day_high: Decimal
    day_low: Decimal
    volume: int
    as_of: datetime


class Holding(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """What a user owns of one instrument; the unit the cache stores (array_like: compact bytes)."""

    instrument_id: int
    quantity: Decimal
    average_cost: Decimal


class Holdings(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """All of one user's holdings: changes only on trades, so it is what gets cached."""

    user_id: int
    items: tuple[Holding, ...]


class ValuedHolding(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    name: str
    asset_class: AssetClass
    currency: str
    quantity: Decimal
    average_cost: Decimal
    price: Decimal
    market_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_pct: Decimal
    market_value_base: Decimal
    weight: Decimal


class Portfolio(msgspec.Struct, frozen=True, kw_only=True):
    """Holdings valued at one quote snapshot; totals in the base currency."""

    user_id: int
    base_currency: str
    quotes_version: int
    quotes_as_of: datetime | None
    total_market_value: Decimal
    total_cost_basis: Decimal
    total_unrealized_pnl: Decimal
    total_unrealized_pnl_pct: Decimal
    holdings: tuple[ValuedHolding, ...]


CASH_PREFIX = "CASH-"


class QuoteSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Every instrument and its latest quote at one published version, shared by all users.

    Cash instruments (`CASH-EUR`, ...) are quoted in the base currency, so their price is the
    exchange rate into the base currency; `fx_to_base` holds those rates, built once per version.
    """

    version: int
    as_of: datetime | None
    instruments: dict[int, Instrument]
    quotes: dict[int, Quote]
    base_currency: str
    fx_to_base: dict[str, Decimal]


def build_snapshot(
    version: int, instruments: dict[int, Instrument], quotes: dict[int, Quote], base_currency: str
) -> QuoteSnapshot:
    """Assemble a snapshot and derive its exchange rates from the cash instruments' quotes."""
    rates = {
        inst.symbol.removeprefix(CASH_PREFIX): quotes[inst.id].price
        for inst in instruments.values()
        if inst.asset_class == "cash" and inst.symbol.startswith(CASH_PREFIX) and inst.id in quotes
    }
    base = rates.get(base_currency, Decimal(1))
    fx = {currency: rate / base for currency, rate in rates.items()}
    fx[base_currency] = Decimal(1)
    as_of = max((q.as_of for q in quotes.values()), default=None)
    return QuoteSnapshot(
        version=version, as_of=as_of, instruments=instruments, quotes=quotes, base_currency=base_currency, fx_to_base=fx
    )
