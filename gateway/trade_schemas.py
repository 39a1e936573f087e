"""Trades on the wire: the order a client sends, the trade and holding it gets back, and the page cursor."""

import base64
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from litestar.exceptions import ValidationException

from domain.models.trades import Order, Position, Trade, TradePage
from gateway.amounts import Quantity, TradePrice

Symbol = Annotated[str, msgspec.Meta(min_length=1, max_length=16, pattern=r"^[A-Z0-9][A-Z0-9.\-]{0,15}$")]
Side = Literal["buy", "sell"]
MAX_ID = 2**63 - 1
# A cursor is 9 bytes, base64url without padding: a format byte (1), then the 8-byte id the next page
# starts below. Every string of this shape is a position, so the document can state it exactly.
CURSOR_PATTERN = r"^A[Q-X][A-Za-z0-9_-]{10}$"  # the format byte, then a positive 64-bit id
_CURSOR = re.compile(CURSOR_PATTERN)
_CURSOR_FORMAT = b"\x01"


class TradeIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    symbol: Symbol
    side: Side
    quantity: Quantity
    price: TradePrice

    def to_domain(self) -> Order:
        quantity, price = Quantity.check(self.quantity, "quantity"), TradePrice.check(self.price, "price")
        return Order(symbol=self.symbol, side=self.side, quantity=quantity, price=price)


class HoldingOut(msgspec.Struct, frozen=True):
    quantity: Decimal
    average_cost: Decimal
    realized_pnl: Decimal


class TradeOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    realized_pnl: Decimal
    executed_at: datetime
    fee: Decimal  # in the instrument's currency, paid from the user's cash
    holding: HoldingOut | None = None
    cash: dict[str, Decimal] | None = None  # the user's cash per currency after the trade


class TradePageOut(msgspec.Struct, frozen=True):
    items: list[TradeOut]
    next_cursor: str | None


def trade_out(trade: Trade, position: Position | None = None, cash: dict[str, Decimal] | None = None) -> TradeOut:
    holding = HoldingOut(position.quantity, position.average_cost, position.realized_pnl) if position else None
    return TradeOut(
        id=trade.id,
        user_id=trade.user_id,
        symbol=trade.symbol,
        side=trade.side,
        quantity=trade.quantity,
        price=trade.price,
        realized_pnl=trade.realized_pnl,
        executed_at=trade.executed_at,
        fee=trade.fee,
        holding=holding,
        cash=cash,
    )


def trade_page_out(page: TradePage) -> TradePageOut:
    return TradePageOut(items=[trade_out(t) for t in page.items], next_cursor=encode_cursor(page.next_before))


def encode_cursor(before: int | None) -> str | None:
    if before is None:
        return None
    return base64.urlsafe_b64encode(_CURSOR_FORMAT + before.to_bytes(8, "big")).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The trade id a page starts below; 400 naming `cursor` for a string of another shape."""
    if cursor is None:
        return None
    if not _CURSOR.fullmatch(cursor):
        raise ValidationException(
            "the cursor is not one this API gave out",
            extra=[{"key": "cursor", "source": "query", "message": "unknown cursor: pass next_cursor as it came"}],
        )
    # Ids start at 1: a cursor below that (all zeros) is the position after the last trade, an empty page.
    return max(int.from_bytes(base64.urlsafe_b64decode(cursor)[1:], "big"), 1)
