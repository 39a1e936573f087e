"""The in-memory twin of the ledger: the PostgreSQL ledger's rules over lists and dicts."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.errors import IdempotencyKeyReusedError, UserNotFoundError
from domain.models.audit import AuditEntry, entry_target
from domain.models.ledger import Balance, BookResult, Entry, EntryDraft, FxRates, LedgerPage, apply_cash
from domain.ports.clock import Clock
from domain.ports.ledger import Ledger


class InMemoryLedger(Ledger):
    """Users are those of `holdings`; the trade store's twin books settlements through `post`."""

    def __init__(
        self, holdings: InMemoryHoldingsRepository, clock: Clock | None = None, audit: InMemoryAuditLog | None = None
    ) -> None:
        self._holdings = holdings
        self.clock = clock or FixedClock()
        self.audit = audit or InMemoryAuditLog(self.clock)
        self.entries_booked: list[Entry] = []
        self.cash: dict[int, dict[str, Decimal]] = holdings.cash  # the portfolio's cash is the ledger's
        self._keys: dict[tuple[int, str], Entry] = {}

    def post(
        self,
        user_id: int,
        drafts: Sequence[EntryDraft],
        *,
        fx: FxRates | None = None,
        trade_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[tuple[Entry, ...], tuple[Balance, ...]]:
        """What `post_entries` does in a store's transaction: check, then book everything or nothing."""
        balances = self.cash.setdefault(user_id, {})
        booked, after = apply_cash(balances, tuple(drafts), fx, trade_id)
        entries = []
        for i, draft in enumerate(booked):
            entry = Entry(
                id=len(self.entries_booked) + 1, user_id=user_id, kind=draft.kind, postings=draft.postings,
                booked_at=self.clock.now(), trade_id=draft.trade_id,
            )  # fmt: skip
            self.entries_booked.append(entry)
            entries.append(entry)
            if i == 0 and idempotency_key is not None:
                self._keys[(user_id, idempotency_key)] = entry
        balances.update(after)
        return tuple(entries), self._balances(user_id)

    async def book(
        self, user_id: int, drafts: Sequence[EntryDraft], idempotency_key: str | None, *, audit: AuditEntry
    ) -> BookResult:
        self._check(user_id)
        if idempotency_key is not None and (first := self._keys.get((user_id, idempotency_key))) is not None:
            if first.postings != drafts[0].postings or first.kind != drafts[0].kind:
                raise IdempotencyKeyReusedError()
            return BookResult(entries=(first,), balances=self._balances(user_id), replayed=True)
        entries, balances = self.post(user_id, drafts, idempotency_key=idempotency_key)
        ids = [e.id for e in entries]
        self.audit.record(audit.completed(target=entry_target(user_id, ids[0]), entry_ids=ids))
        return BookResult(entries=entries, balances=balances)

    async def entries(
        self, user_id: int, *, currency: str | None, since: datetime | None, limit: int, before: int | None
    ) -> LedgerPage:
        self._check(user_id)
        mine = [
            e
            for e in reversed(self.entries_booked)
            if e.user_id == user_id
            and (before is None or e.id < before)
            and (since is None or e.booked_at >= since)
            and (currency is None or any(p.currency == currency for p in e.postings))
        ]
        page = tuple(mine[:limit])
        return LedgerPage(items=page, next_before=page[-1].id if len(mine) > limit else None)

    async def balances(self, user_id: int) -> tuple[Balance, ...]:
        self._check(user_id)
        return self._balances(user_id)

    def _balances(self, user_id: int) -> tuple[Balance, ...]:
        return tuple(Balance(currency=c, amount=v) for c, v in sorted(self.cash.get(user_id, {}).items()))

    def _check(self, user_id: int) -> None:
        if user_id not in self._holdings.users:
            raise UserNotFoundError(user_id)
