"""The in-memory twin of the trade store: the PostgreSQL store's rules over the in-memory holdings."""

import copy
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.ledger import InMemoryLedger
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.errors import (
    CurrencyNotTradableError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
    UnknownSymbolError,
    UserNotFoundError,
)
from domain.models.audit import AuditEntry, trade_target, user_target
from domain.models.holdings import Holding
from domain.models.ledger import CASH, Settlement, gross_and_fee
from domain.models.ledger import settlement as settle
from domain.models.trade_imports import BookedRow, ImportOutcome, ImportRow, RowError
from domain.models.trades import Order, Position, Trade, TradePage, TradeResult
from domain.ports.clock import Clock
from domain.ports.trades import TradeStore


class InMemoryTradeStore(TradeStore):
    """Trades move the holdings of `holdings`; symbols are the instruments of `quotes`."""

    def __init__(
        self,
        holdings: InMemoryHoldingsRepository,
        quotes: InMemoryQuoteRepository,
        clock: Clock | None = None,
        audit: InMemoryAuditLog | None = None,
        *,
        ledger: InMemoryLedger | None = None,
    ) -> None:
        self._holdings = holdings
        self._quotes = quotes
        self.clock = clock or FixedClock()
        self.audit = audit or InMemoryAuditLog(self.clock)
        self.ledger = ledger or InMemoryLedger(holdings, self.clock, self.audit)
        self.trades: list[Trade] = []
        self._results: dict[tuple[int, str], TradeResult] = {}
        self._realized: dict[tuple[int, int], Decimal] = {}
        self.fingerprints: dict[int, dict[str, int]] = {}  # user -> imported row's fingerprint -> its trade

    async def place(
        self,
        user_id: int,
        order: Order,
        idempotency_key: str | None,
        *,
        audit: AuditEntry,
        settlement: Settlement = CASH,
    ) -> TradeResult:
        if user_id not in self._holdings.users:
            raise UserNotFoundError(user_id)
        if idempotency_key is not None and (first := self._results.get((user_id, idempotency_key))) is not None:
            if not first.trade.answers(order, any_price=settlement.price is not None):
                raise IdempotencyKeyReusedError()
            cash = {b.currency: b.amount for b in await self.ledger.balances(user_id)}
            return TradeResult(trade=first.trade, position=first.position, replayed=True, cash=cash)
        result = self._book(user_id, order, None, settlement)
        self.audit.record(audit.completed(target=trade_target(user_id, result.trade.id), trade_id=result.trade.id))
        if idempotency_key is not None:
            self._results[(user_id, idempotency_key)] = result
        return result

    async def import_rows(
        self,
        user_id: int,
        rows: Sequence[ImportRow],
        *,
        dry_run: bool,
        audit: AuditEntry,
        settlement: Settlement = CASH,
    ) -> ImportOutcome:
        if user_id not in self._holdings.users:
            raise UserNotFoundError(user_id)
        saved = self._saved()
        booked: list[BookedRow] = []
        duplicates: list[int] = []
        errors: list[RowError] = []
        for row in rows:
            if row.fingerprint in self.fingerprints.get(user_id, {}):
                duplicates.append(row.row)
                continue
            try:
                result = self._book(user_id, row.order, row.executed_at, settlement)
                booked.append(BookedRow(row=row.row, result=result))
            except InvalidRequestError as e:
                errors.append(RowError(row=row.row, field=e.field or "row", message=e.detail))
        outcome = ImportOutcome(booked=tuple(booked), duplicates=tuple(duplicates), errors=tuple(errors))
        if errors or dry_run:
            self._restore(saved)
            return outcome
        by_row = {r.row: r.fingerprint for r in rows}
        self.fingerprints.setdefault(user_id, {}).update({by_row[b.row]: b.result.trade.id for b in booked})
        if booked:
            self.audit.record(
                audit.completed(target=user_target(user_id), booked=len(booked), duplicates=len(duplicates))
            )
        return outcome

    def _saved(self) -> tuple[Any, ...]:
        """What an import may change, to put back when it is undone (as the database's rollback does)."""
        return (
            copy.deepcopy(self._holdings.holdings),
            dict(self._realized),
            len(self.trades),
            copy.deepcopy(self._holdings.cash),
            len(self.ledger.entries_booked),
        )

    def _restore(self, saved: tuple[Any, ...]) -> None:
        holdings, realized, trades, cash, entries = saved
        self._holdings.holdings, self._realized, self.trades = holdings, realized, self.trades[:trades]
        self._holdings.cash.clear()  # in place: the ledger twin reads the same dict
        self._holdings.cash.update(cash)
        del self.ledger.entries_booked[entries:]

    def _book(self, user_id: int, order: Order, executed_at: datetime | None, settlement: Settlement) -> TradeResult:
        order = settlement.executed(order)
        instrument = next((i for i in self._quotes.instruments.values() if i.symbol == order.symbol), None)
        if instrument is None:
            raise UnknownSymbolError(order.symbol)
        if instrument.asset_class == "cash":
            raise CurrencyNotTradableError(order.symbol)
        after, realized = self._position(user_id, instrument.id).apply(order)
        trade_id = len(self.trades) + 1
        drafts = settle(order, instrument.currency, settlement.fees, trade_id)
        _, balances = self.ledger.post(user_id, drafts, fx=settlement.fx, trade_id=trade_id)  # raises before a change
        self._store(user_id, instrument.id, after)
        trade = Trade(
            id=trade_id,
            user_id=user_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=order.price,
            realized_pnl=realized,
            executed_at=executed_at or self.clock.now(),
            fee=gross_and_fee(order, settlement.fees)[1],
        )
        self.trades.append(trade)
        return TradeResult(trade=trade, position=after, cash={b.currency: b.amount for b in balances})

    async def history(self, user_id: int, *, limit: int, before: int | None) -> TradePage:
        if user_id not in self._holdings.users:
            raise UserNotFoundError(user_id)
        mine = [t for t in reversed(self.trades) if t.user_id == user_id and (before is None or t.id < before)]
        page = tuple(mine[:limit])
        return TradePage(items=page, next_before=page[-1].id if len(mine) > limit else None)

    def holdings_of(self, user_id: int) -> list[Holding]:
        """What the user holds now, sold-out lines included (for tests that reconcile the record)."""
        return list(self._holdings.holdings.get(user_id, {}).values())

    def _position(self, user_id: int, instrument_id: int) -> Position:
        held = self._holdings.holdings.get(user_id, {}).get(instrument_id)
        realized = self._realized.get((user_id, instrument_id), Decimal(0))
        if held is None:
            return Position(realized_pnl=realized)
        return Position(quantity=held.quantity, average_cost=held.average_cost, realized_pnl=realized)

    def _store(self, user_id: int, instrument_id: int, position: Position) -> None:
        lot = Holding(instrument_id=instrument_id, quantity=position.quantity, average_cost=position.average_cost)
        self._holdings.holdings.setdefault(user_id, {})[instrument_id] = lot
        self._realized[(user_id, instrument_id)] = position.realized_pnl
