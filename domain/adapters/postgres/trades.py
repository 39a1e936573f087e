"""PostgreSQL trades: the trade row, the holding it moves and its cash settlement, in one transaction per order."""

from collections.abc import Sequence

import msgspec
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.ledger import cash_of
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.trade_booking import book_trade, check_user, lock_user
from domain.adapters.postgres.trade_imports import import_rows
from domain.errors import IdempotencyKeyReusedError
from domain.models.audit import AuditEntry, trade_target
from domain.models.ledger import CASH, Settlement
from domain.models.trade_imports import ImportOutcome, ImportRow
from domain.models.trades import Order, Position, Trade, TradePage, TradeResult
from domain.ports.trades import TradeStore

_BY_KEY = """
SELECT t.id, t.user_id, i.symbol, t.side, t.quantity, t.price, t.realized_pnl, t.executed_at, t.fee,
       t.position_quantity, t.position_average_cost, t.position_realized_pnl
FROM trades t
JOIN instruments i ON i.id = t.instrument_id
WHERE t.user_id = %s AND t.idempotency_key = %s
"""
_HISTORY = """
SELECT t.id, t.user_id, i.symbol, t.side, t.quantity, t.price, t.realized_pnl, t.executed_at, t.fee
FROM trades t JOIN instruments i ON i.id = t.instrument_id
WHERE t.user_id = %s AND t.id < %s
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = %s AND u.erased_at IS NOT NULL)
ORDER BY t.id DESC
LIMIT %s
"""
_USER_EXISTS = "SELECT erased_at FROM users WHERE id = %s"
_NO_CURSOR = 2**63 - 1
name_queries({
    _BY_KEY: "trades.by_key", _HISTORY: "trades.history", _USER_EXISTS: "trades.user_exists",
})  # fmt: skip


class PostgresTradeStore(TradeStore):
    def __init__(self, pool: AsyncConnectionPool, *, import_deadline_s: float | None = None) -> None:
        self._pool = pool
        self._import_deadline_s = import_deadline_s  # None: a write's deadline

    async def place(
        self,
        user_id: int,
        order: Order,
        idempotency_key: str | None,
        *,
        audit: AuditEntry,
        settlement: Settlement = CASH,
    ) -> TradeResult:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            await lock_user(conn, user_id)
            if idempotency_key is not None:
                first = await _first_with_key(conn, user_id, idempotency_key)
                if first is not None:
                    if not first.trade.answers(order, any_price=settlement.price is not None):
                        raise IdempotencyKeyReusedError()
                    return msgspec.structs.replace(first, cash=await cash_of(conn, user_id))
            result = await book_trade(conn, user_id, order, idempotency_key=idempotency_key, settlement=settlement)
            target = trade_target(user_id, result.trade.id)
            await append_audit(conn, audit.completed(target=target, trade_id=result.trade.id))
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
        return await import_rows(
            self._pool,
            user_id,
            rows,
            dry_run=dry_run,
            audit=audit,
            settlement=settlement,
            deadline_s=self._import_deadline_s,
        )

    async def history(self, user_id: int, *, limit: int, before: int | None) -> TradePage:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_HISTORY, (user_id, before or _NO_CURSOR, user_id, limit + 1), prepare=True)
            rows = await cur.fetchall()
            # Erased users' trades stay, but no longer as anyone's: their pages are empty, and then this says why.
            if not rows:
                check_user(user_id, await (await conn.execute(_USER_EXISTS, (user_id,), prepare=True)).fetchone())
        trades = tuple(_trade(row) for row in rows[:limit])
        return TradePage(items=trades, next_before=trades[-1].id if len(rows) > limit else None)


async def _first_with_key(conn: AsyncConnection, user_id: int, key: str) -> TradeResult | None:
    row = await (await conn.execute(_BY_KEY, (user_id, key), prepare=True)).fetchone()
    if row is None:
        return None
    position = Position(quantity=row[9], average_cost=row[10], realized_pnl=row[11])
    return TradeResult(trade=_trade(row[:9]), position=position, replayed=True)


def _trade(row: tuple[object, ...]) -> Trade:
    tid, user_id, symbol, side, quantity, price, realized, executed_at, fee = row
    return Trade(
        id=tid,  # type: ignore[arg-type]
        user_id=user_id,  # type: ignore[arg-type]
        symbol=symbol,  # type: ignore[arg-type]
        side=side,  # type: ignore[arg-type]
        quantity=quantity,  # type: ignore[arg-type]
        price=price,  # type: ignore[arg-type]
        realized_pnl=realized,  # type: ignore[arg-type]
        executed_at=executed_at,  # type: ignore[arg-type]
        fee=fee,  # type: ignore[arg-type]
    )
