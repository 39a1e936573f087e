"""Orders, positions and the trades that move them."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

import msgspec

from domain.errors import InsufficientHoldingsError, InvalidRequestError

Side = Literal["buy", "sell"]
QUANTUM = Decimal("0.00000001")  # the schema keeps 8 decimal places
# What the ledger can record (its digits before the point): a holding's quantity, realised profit or loss.
MAX_HELD = Decimal("1e20")
MAX_PNL = Decimal("1e16")


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
        """The position after `order`, and the profit the order realised; raises if selling more than held.

        Raises InvalidRequestError (naming `quantity`) for a holding or a profit too large for the ledger.
        """
        if order.side == "buy":
            quantity = self.quantity + order.quantity
            if quantity >= MAX_HELD:
                raise InvalidRequestError(f"a holding must stay below {MAX_HELD:,.0f}", field="quantity")
            cost = (self.quantity * self.average_cost + order.quantity * order.price) / quantity
            return Position(quantity=quantity, average_cost=cost.quantize(QUANTUM), realized_pnl=self.realized_pnl), (
                Decimal(0)
            )
        if order.quantity > self.quantity:
            raise InsufficientHoldingsError(order.symbol, held=self.quantity)
        realized = (order.price - self.average_cost) * order.quantity
        if abs(realized) >= MAX_PNL or abs(self.realized_pnl + realized) >= MAX_PNL:
            raise InvalidRequestError(f"profit or loss must stay below {MAX_PNL:,.0f}", field="quantity")
        realized = realized.quantize(QUANTUM)
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
    fee: Decimal = Decimal(0)  # in the instrument's currency, paid from the user's cash

    def answers(self, order: Order, *, any_price: bool = False) -> bool:
        """Whether this trade executed `order` (at any price, when the market set it): a repeated
        Idempotency-Key must come with the same order."""
        same = (self.symbol, self.side, self.quantity) == (order.symbol, order.side, order.quantity)
        return same and (any_price or self.price == order.price)


class TradeResult(msgspec.Struct, frozen=True, kw_only=True):
    trade: Trade
    position: Position
    replayed: bool = False
    cash: dict[str, Decimal] = {}  # the user's cash per currency after the trade (now, for a replay)


class TradePage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[Trade, ...]
    next_before: int | None
