"""Trades: the record of orders and the holdings they move."""

from abc import abstractmethod
from typing import Protocol

from domain.models.audit import AuditEntry
from domain.models.ledger import CASH, Settlement
from domain.models.trades import Order, TradePage, TradeResult


class TradeStore(Protocol):
    """The record of trades and the holdings they move, changed together or not at all."""

    @abstractmethod
    async def place(
        self,
        user_id: int,
        order: Order,
        idempotency_key: str | None,
        *,
        audit: AuditEntry,
        settlement: Settlement = CASH,
    ) -> TradeResult:
        """In one transaction: record the trade, apply it to the holding (`Position.apply`), settle it in cash
        in the instrument's currency (`settlement`: a buy pays quantity x price plus the fee, a sell receives
        it less the fee; the ledger's entries carry the trade's id) and append `audit`, completed with the
        trade's target (`user:<id>/trade:<trade id>`) and `trade_id`. The result carries the cash after it.

        A repeated `idempotency_key` returns the first result with `replayed=True` (and records nothing).

        Raises:
            UserNotFoundError (UserErasedError for an erased user), UnknownSymbolError,
            InsufficientHoldingsError, InsufficientCashError (naming `amount`), IdempotencyKeyReusedError.
        """

    @abstractmethod
    async def history(self, user_id: int, *, limit: int, before: int | None) -> TradePage:
        """The user's trades, newest first, with ids below `before`.

        Raises UserNotFoundError (UserErasedError for an erased user: the trades stay, but not as anyone's).
        """
