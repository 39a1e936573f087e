"""What users own, the cache's unit, and a portfolio valued at one snapshot."""

from datetime import datetime
from decimal import Decimal

import msgspec

from domain.models.quotes import AssetClass


class Holding(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """What a user owns of one instrument; the unit the cache stores (array_like: compact bytes)."""

    instrument_id: int
    quantity: Decimal
    average_cost: Decimal


class Cash(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """What a user holds of one currency (the ledger's balance); above zero when listed."""

    currency: str
    amount: Decimal


class Holdings(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """All of one user's holdings and cash: changes only on trades and cash bookings (both invalidate it), so
    it is what gets cached."""

    user_id: int
    items: tuple[Holding, ...]
    cash: tuple[Cash, ...] = ()  # by currency


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
    day_change: Decimal  # the market value's change since the previous close, in the instrument's currency
    day_change_pct: Decimal
    market_value_base: Decimal
    weight: Decimal


class ValuedCash(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    amount: Decimal
    amount_base: Decimal
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
    total_day_change: Decimal
    total_day_change_pct: Decimal  # against the total at the previous closes
    holdings: tuple[ValuedHolding, ...]
    total_cash: Decimal = Decimal(0)  # in the base currency; part of total_market_value and total_cost_basis
    cash: tuple[ValuedCash, ...] = ()
