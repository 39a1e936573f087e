"""Trades: validate, apply in one transaction, then invalidate the user's cached holdings."""

from collections.abc import Awaitable, Callable
from decimal import Decimal

import msgspec

from domain.errors import InvalidRequestError, UnavailableError
from domain.models.audit import TRADE_PLACE, Actor, AuditEntry, user_target
from domain.models.trades import QUANTUM, Order, TradePage, TradeResult
from domain.ports.trades import TradeStore

MAX_QUANTITY = Decimal("1e12")
MAX_PRICE = Decimal("1e10")
MAX_PAGE = 500


def validate(order: Order) -> Order:
    """Business bounds on an order; InvalidRequestError names the field at fault."""
    for field, value, ceiling in (("quantity", order.quantity, MAX_QUANTITY), ("price", order.price, MAX_PRICE)):
        if not value.is_finite() or value <= 0:
            raise InvalidRequestError(f"{field} must be a positive number", field=field)
        if value >= ceiling:
            raise InvalidRequestError(f"{field} must be below {ceiling:,.0f}", field=field)
        if value != value.quantize(QUANTUM):
            raise InvalidRequestError(f"{field} has more than 8 decimal places", field=field)
    return msgspec.structs.replace(
        order, quantity=order.quantity.quantize(QUANTUM), price=order.price.quantize(QUANTUM)
    )


class TradeService:
    def __init__(self, store: TradeStore, invalidate: Callable[[int], Awaitable[None]]) -> None:
        self._store = store
        self._invalidate = invalidate

    async def place(
        self, user_id: int, order: Order, idempotency_key: str | None = None, *, actor: Actor
    ) -> TradeResult:
        """Execute the order, recorded in the audit log as `actor`'s; the user's holdings are invalidated
        everywhere before this returns."""
        order = validate(order)
        change = {**msgspec.structs.asdict(order), "idempotency_key": idempotency_key}
        audit = AuditEntry.by(actor, TRADE_PLACE, user_target(user_id), change)
        try:
            result = await self._store.place(user_id, order, idempotency_key, audit=audit)
        except UnavailableError:
            # The commit may have happened even though its answer was lost: drop the cached holdings anyway.
            await self._invalidate(user_id)
            raise
        # A replay too: the first attempt may be the lost answer above, committed after that invalidation.
        await self._invalidate(user_id)
        return result

    async def history(self, user_id: int, *, limit: int = 50, before: int | None = None) -> TradePage:
        return await self._store.history(user_id, limit=min(max(limit, 1), MAX_PAGE), before=before)
