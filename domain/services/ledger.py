"""Cash: deposits and withdrawals, the ledger's pages and balances; every booking invalidates the user's
cached portfolio (its cash is part of it), as a trade does."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import msgspec

from domain.errors import UnavailableError
from domain.models.audit import CASH_MOVE, Actor, AuditEntry, user_target
from domain.models.ledger import Balance, BookResult, CashMove, EntryDraft, LedgerPage
from domain.ports.ledger import Ledger

MAX_PAGE = 500


class LedgerService:
    def __init__(self, ledger: Ledger, invalidate: Callable[[int], Awaitable[None]]) -> None:
        self._ledger = ledger
        self._invalidate = invalidate

    async def move(
        self, user_id: int, move: CashMove, idempotency_key: str | None = None, *, actor: Actor
    ) -> BookResult:
        """A deposit or a withdrawal (bounds are the wire's), audited as `actor`'s; InsufficientCashError
        (naming `amount`) for a withdrawal beyond the balance."""
        change = {**msgspec.structs.asdict(move), "idempotency_key": idempotency_key}
        return await self.book(user_id, [move.draft()], idempotency_key, actor=actor, action=CASH_MOVE, change=change)

    async def book(
        self,
        user_id: int,
        drafts: Sequence[EntryDraft],
        idempotency_key: str | None = None,
        *,
        actor: Actor,
        action: str,
        change: dict[str, object] | None = None,
    ) -> BookResult:
        """Book balanced entries (a dividend, interest...) in one transaction, audited as `action` by `actor`;
        the user's cached portfolio is invalidated everywhere before this returns."""
        audit = AuditEntry.by(actor, action, user_target(user_id), change)
        try:
            result = await self._ledger.book(user_id, drafts, idempotency_key, audit=audit)
        except UnavailableError:
            await self._invalidate(user_id)  # the commit may have happened with its answer lost
            raise
        await self._invalidate(user_id)
        return result

    async def entries(
        self,
        user_id: int,
        *,
        currency: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> LedgerPage:
        size = min(max(limit, 1), MAX_PAGE)
        return await self._ledger.entries(user_id, currency=currency, since=since, limit=size, before=before)

    async def balances(self, user_id: int) -> tuple[Balance, ...]:
        return await self._ledger.balances(user_id)
