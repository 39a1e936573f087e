"""The cash ledger: balanced entries, and the user's cash per currency they keep."""

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.models.audit import AuditEntry
from domain.models.ledger import Balance, BookResult, EntryDraft, LedgerPage


class Ledger(Protocol):
    """Entries change the user's cash balances in the same transaction, under the balances' locks."""

    @abstractmethod
    async def book(
        self, user_id: int, drafts: Sequence[EntryDraft], idempotency_key: str | None, *, audit: AuditEntry
    ) -> BookResult:
        """In one transaction: record the entries, move the cash balances and append `audit`, completed with
        the first entry's target (`user:<id>/entry:<entry id>`) and `entry_ids`.

        A repeated `idempotency_key` returns the entry first booked with it, `replayed=True`, and records
        nothing. This is what other parts (dividends, interest) call to book cash.

        Raises:
            UserNotFoundError (UserErasedError for an erased user), InsufficientCashError (a balance would go
            below zero), InvalidRequestError (a balance too large), IdempotencyKeyReusedError.
        """

    @abstractmethod
    async def entries(
        self, user_id: int, *, currency: str | None, since: datetime | None, limit: int, before: int | None
    ) -> LedgerPage:
        """The user's entries, newest first, with ids below `before`, booked at or after `since`, and (given
        `currency`) with a posting in that currency.

        Raises UserNotFoundError (UserErasedError for an erased user).
        """

    @abstractmethod
    async def balances(self, user_id: int) -> tuple[Balance, ...]:
        """The user's cash per currency, by currency; a currency never booked is absent.

        Raises UserNotFoundError (UserErasedError for an erased user).
        """
