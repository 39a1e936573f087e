"""Trades: the record of orders and the holdings they move."""

from abc import abstractmethod
from typing import Protocol

from domain.models.trades import Order, TradePage, TradeResult


class TradeStore(Protocol):
    """The record of trades and the holdings they move, changed together or not at all."""

    @abstractmethod
    async def place(self, user_id: int, order: Order, idempotency_key: str | None) -> TradeResult:
        """In one transaction: record the trade and apply it to the holding (`Position.apply`).

        A repeated `idempotency_key` returns the first result with `replayed=True`.

        Raises:
            UserNotFoundError, UnknownSymbolError, InsufficientHoldingsError, IdempotencyKeyReusedError.
        """

    @abstractmethod
    async def history(self, user_id: int, *, limit: int, before: int | None) -> TradePage:
        """The user's trades, newest first, with ids below `before`. Raises UserNotFoundError."""
