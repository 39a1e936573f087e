"""Folio's domain values: plain, typed, frozen msgspec Structs."""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import msgspec

from domain.errors import InsufficientHoldingsError

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


class FillTicket(msgspec.Struct, frozen=True, kw_only=True):
    """Issued by a cache miss; a fill with it is refused if the user was invalidated in between."""

    user_id: int
    version: bytes | None = None
    usable: bool = True


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


Side = Literal["buy", "sell"]
QUANTUM = Decimal("0.00000001")  # the schema keeps 8 decimal places


class Order(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """One holding's running state: quantity, average cost, and profit realised by sells."""

    quantity: Decimal = Decimal(0)
    average_cost: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    def apply(self, order: Order) -> tuple["Position", Decimal]:
        """The position after `order`, and the profit the order realised; raises if selling more than held."""
        if order.side == "buy":
            quantity = self.quantity + order.quantity
            cost = (self.quantity * self.average_cost + order.quantity * order.price) / quantity
            return Position(quantity=quantity, average_cost=cost.quantize(QUANTUM), realized_pnl=self.realized_pnl), (
                Decimal(0)
            )
        if order.quantity > self.quantity:
            raise InsufficientHoldingsError(order.symbol, held=self.quantity)
        realized = ((order.price - self.average_cost) * order.quantity).quantize(QUANTUM)
        quantity = self.quantity - order.quantity
        average = self.average_cost if quantity else Decimal(0)
        return Position(quantity=quantity, average_cost=average, realized_pnl=self.realized_pnl + realized), realized


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    realized_pnl: Decimal
    executed_at: datetime


class TradeResult(msgspec.Struct, frozen=True, kw_only=True):
    trade: Trade
    position: Position
    replayed: bool = False


class TradePage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[Trade, ...]
    next_before: int | None
