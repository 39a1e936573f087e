"""Instruments, quotes and the snapshot every portfolio is valued at."""

from datetime import date, datetime
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


class QuoteUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """One instrument's new price in an ingest batch; bid, ask and volume are optional."""

    symbol: str
    price: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    volume: int | None = None


class DailyClose(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    close: Decimal
