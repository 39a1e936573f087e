"""Trades: validate, apply in one transaction, then invalidate the user's cached holdings."""

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Literal

import msgspec

from domain.errors import InvalidRequestError, UnavailableError
from domain.models.audit import TRADE_PLACE, Actor, AuditEntry, user_target
from domain.models.ledger import BPS, FeePolicy, FxRates, Settlement
from domain.models.trades import QUANTUM, Order, TradePage, TradeResult
from domain.ports.trades import TradeStore
from domain.services.market_data import QuoteBook

MAX_QUANTITY = Decimal("1e12")
MAX_PRICE = Decimal("1e10")
MAX_PAGE = 500
PricePolicy = Literal["client", "market"]


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


def check_price(price: Decimal, quote: Decimal, tolerance_bps: int) -> None:
    """InvalidRequestError naming `price` when it is further than `tolerance_bps` from the quote (0: no check)."""
    if tolerance_bps and abs(price - quote) * BPS > quote * tolerance_bps:
        raise InvalidRequestError(
            f"price {price} is more than {tolerance_bps} basis points from the quote, {quote}", field="price"
        )


class TradePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How trades price and settle: TRADE_FEE_BPS/TRADE_FEE_MIN, AUTO_FX, TRADE_PRICE_POLICY and
    TRADE_PRICE_TOLERANCE_BPS (0: any client price)."""

    fees: FeePolicy = FeePolicy()
    auto_fx: bool = False
    price: PricePolicy = "client"
    tolerance_bps: int = 0


DEFAULT_POLICY = TradePolicy()


class TradeService:
    def __init__(
        self,
        store: TradeStore,
        invalidate: Callable[[int], Awaitable[None]],
        *,
        quotes: QuoteBook | None = None,
        policy: TradePolicy = DEFAULT_POLICY,
    ) -> None:
        self._store = store
        self._invalidate = invalidate
        self._quotes = quotes
        self._policy = policy

    async def place(
        self, user_id: int, order: Order, idempotency_key: str | None = None, *, actor: Actor
    ) -> TradeResult:
        """Execute the order, recorded in the audit log as `actor`'s; the user's holdings are invalidated
        everywhere before this returns."""
        order, settlement = self._priced(validate(order))
        change = {**msgspec.structs.asdict(order), "idempotency_key": idempotency_key}
        audit = AuditEntry.by(actor, TRADE_PLACE, user_target(user_id), change)
        try:
            result = await self._store.place(user_id, order, idempotency_key, audit=audit, settlement=settlement)
        except UnavailableError:
            # The commit may have happened even though its answer was lost: drop the cached holdings anyway.
            await self._invalidate(user_id)
            raise
        # A replay too: the first attempt may be the lost answer above, committed after that invalidation.
        await self._invalidate(user_id)
        return result

    def import_settlement(self) -> Settlement:
        """How imported trades settle: at their own prices (a broker's history, never checked against today's
        quotes) and without Folio's fee (the broker charged its own), converting a shortfall under AUTO_FX."""
        if self._quotes is None or not self._policy.auto_fx:
            return Settlement()
        snapshot = self._quotes.current()
        return Settlement(fx=FxRates(base=snapshot.base_currency, rates=snapshot.fx_to_base))

    def _priced(self, order: Order) -> tuple[Order, Settlement]:
        """The order (checked against the quote), and how it executes and settles."""
        policy = self._policy
        if self._quotes is None:
            return order, Settlement(fees=policy.fees)
        snapshot = self._quotes.current()
        fx = FxRates(base=snapshot.base_currency, rates=snapshot.fx_to_base) if policy.auto_fx else None
        quote = self._quotes.find(order.symbol).quote if self._quotes.knows(order.symbol) else None
        if quote is not None:
            check_price(order.price, quote.price, policy.tolerance_bps)
        elif policy.price == "market":
            raise InvalidRequestError(f"{order.symbol} has no quote to trade at", field="symbol")
        price = quote.price if quote is not None and policy.price == "market" else None
        return order, Settlement(fees=policy.fees, fx=fx, price=price)

    async def history(self, user_id: int, *, limit: int = 50, before: int | None = None) -> TradePage:
        return await self._store.history(user_id, limit=min(max(limit, 1), MAX_PAGE), before=before)
