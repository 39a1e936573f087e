"""Trades: the record of orders and the holdings they move."""

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol

from domain.models.audit import AuditEntry
from domain.models.ledger import CASH, Settlement
from domain.models.trade_imports import ImportOutcome, ImportRow
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

    @abstractmethod
    async def import_rows(
        self,
        user_id: int,
        rows: Sequence[ImportRow],
        *,
        dry_run: bool,
        audit: AuditEntry,
        settlement: Settlement = CASH,
    ) -> ImportOutcome:
        """Book `rows` in order, all in one transaction, each as `place` books one (no Idempotency-Key, its
        `executed_at`, settled in cash by `settlement`); a row whose fingerprint this user imported before is a
        duplicate and books nothing.

        When a row cannot be booked, the outcome lists it in `errors` (naming its field) and nothing is
        committed; nothing is either on a `dry_run`. Otherwise `audit` is appended, completed with the user's
        target (`user:<id>`) and the counts (`booked`, `duplicates`), in the same transaction, when at least one
        row was booked.

        Raises:
            UserNotFoundError (UserErasedError for an erased user).
        """
