"""The in-memory twin of the trade store: the PostgreSQL store's rules over the in-memory holdings."""

import copy
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.errors import IdempotencyKeyReusedError, InvalidRequestError, UnknownSymbolError, UserNotFoundError
from domain.models.audit import AuditEntry, trade_target, user_target
from domain.models.holdings import Holding
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
    ) -> None:
        self._holdings = holdings
        self._quotes = quotes
        self.clock = clock or FixedClock()
        self.audit = audit or InMemoryAuditLog(self.clock)
        self.trades: list[Trade] = []
        self._results: dict[tuple[int, str], TradeResult] = {}
        self._realized: dict[tuple[int, int], Decimal] = {}
        self.fingerprints: dict[int, dict[str, int]] = {}  # user -> imported row's fingerprint -> its trade

    async def place(self, user_id: int, order: Order, idempotency_key: str | None, *, audit: AuditEntry) -> TradeResult:
        if user_id not in self._holdings.users:
            raise UserNotFoundError(user_id)
        if idempotency_key is not None and (first := self._results.get((user_id, idempotency_key))) is not None:
            if (first.trade.symbol, first.trade.side, first.trade.quantity, first.trade.price) != (
                order.symbol, order.side, order.quantity, order.price,
            ):  # fmt: skip
                raise IdempotencyKeyReusedError()
            return TradeResult(trade=first.trade, position=first.position, replayed=True)
        result = self._book(user_id, order, None)
        self.audit.record(audit.completed(target=trade_target(user_id, result.trade.id), trade_id=result.trade.id))
        if idempotency_key is not None:
            self._results[(user_id, idempotency_key)] = result
        return result

    async def import_rows(
        self, user_id: int, rows: Sequence[ImportRow], *, dry_run: bool, audit: AuditEntry
    ) -> ImportOutcome:
        if user_id not in self._holdings.users:
            raise UserNotFoundError(user_id)
        saved = (copy.deepcopy(self._holdings.holdings), dict(self._realized), len(self.trades))
        booked: list[BookedRow] = []
        duplicates: list[int] = []
        errors: list[RowError] = []
        for row in rows:
            if row.fingerprint in self.fingerprints.get(user_id, {}):
                duplicates.append(row.row)
                continue
            try:
                booked.append(BookedRow(row=row.row, result=self._book(user_id, row.order, row.executed_at)))
            except InvalidRequestError as e:
                errors.append(RowError(row=row.row, field=e.field or "row", message=e.detail))
        outcome = ImportOutcome(booked=tuple(booked), duplicates=tuple(duplicates), errors=tuple(errors))
        if errors or dry_run:
            self._holdings.holdings, self._realized, self.trades = saved[0], saved[1], self.trades[: saved[2]]
            return outcome
        by_row = {r.row: r.fingerprint for r in rows}
        self.fingerprints.setdefault(user_id, {}).update({by_row[b.row]: b.result.trade.id for b in booked})
        if booked:
            self.audit.record(
                audit.completed(target=user_target(user_id), booked=len(booked), duplicates=len(duplicates))
            )
        return outcome

    def _book(self, user_id: int, order: Order, executed_at: datetime | None) -> TradeResult:
        instrument_id = next((i.id for i in self._quotes.instruments.values() if i.symbol == order.symbol), None)
        if instrument_id is None:
            raise UnknownSymbolError(order.symbol)
        after, realized = self._position(user_id, instrument_id).apply(order)
        self._store(user_id, instrument_id, after)
        trade = Trade(
            id=len(self.trades) + 1,
            user_id=user_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=order.price,
            realized_pnl=realized,
            executed_at=executed_at or self.clock.now(),
        )
        self.trades.append(trade)
        return TradeResult(trade=trade, position=after)

    async def history(self, user_id: int, *, limit: int, before: int | None) -> TradePage:
        if user_id not in self._holdings.users:
            raise UserNotFoundError(user_id)
        mine = [t for t in reversed(self.trades) if t.user_id == user_id and (before is None or t.id < before)]
        page = tuple(mine[:limit])
        return TradePage(items=page, next_before=page[-1].id if len(mine) > limit else None)

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
