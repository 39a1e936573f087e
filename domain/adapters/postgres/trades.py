"""PostgreSQL trades: the trade row, the holding it moves and its cash settlement, in one transaction per order."""

import msgspec
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.ledger import cash_of, post_entries
from domain.adapters.postgres.pool import connection, name_queries
from domain.errors import IdempotencyKeyReusedError, UnknownSymbolError, UserErasedError, UserNotFoundError
from domain.models.audit import AuditEntry, trade_target
from domain.models.ledger import CASH, Settlement, gross_and_fee
from domain.models.ledger import settlement as settle
from domain.models.trades import Order, Position, Trade, TradePage, TradeResult
from domain.ports.trades import TradeStore

# Locking the user row serialises one user's orders: no lost update on a first buy, and a
# repeated Idempotency-Key finds the first trade once it is committed.
_LOCK_USER = "SELECT erased_at FROM users WHERE id = %s FOR UPDATE"
_BY_KEY = """
SELECT t.id, t.user_id, i.symbol, t.side, t.quantity, t.price, t.realized_pnl, t.executed_at, t.fee,
       t.position_quantity, t.position_average_cost, t.position_realized_pnl
FROM trades t
JOIN instruments i ON i.id = t.instrument_id
WHERE t.user_id = %s AND t.idempotency_key = %s
"""
_INSTRUMENT = "SELECT id, currency FROM instruments WHERE symbol = %s"
_POSITION = """
SELECT quantity, average_cost, realized_pnl FROM holdings
WHERE user_id = %s AND instrument_id = %s FOR UPDATE
"""
_UPSERT_HOLDING = """
INSERT INTO holdings (user_id, instrument_id, quantity, average_cost, realized_pnl, updated_at)
VALUES (%s, %s, %s, %s, %s, now())
ON CONFLICT (user_id, instrument_id) DO UPDATE
SET quantity = EXCLUDED.quantity, average_cost = EXCLUDED.average_cost,
    realized_pnl = EXCLUDED.realized_pnl, updated_at = now()
"""
_INSERT_TRADE = """
INSERT INTO trades (user_id, instrument_id, side, quantity, price, realized_pnl, idempotency_key,
                    position_quantity, position_average_cost, position_realized_pnl, fee)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id, executed_at
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
    _LOCK_USER: "trades.lock_user", _BY_KEY: "trades.by_key", _INSTRUMENT: "trades.instrument",
    _POSITION: "trades.position", _UPSERT_HOLDING: "trades.upsert_holding", _INSERT_TRADE: "trades.insert",
    _HISTORY: "trades.history", _USER_EXISTS: "trades.user_exists",
})  # fmt: skip


class PostgresTradeStore(TradeStore):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

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
            _check_user(user_id, await (await conn.execute(_LOCK_USER, (user_id,), prepare=True)).fetchone())
            if idempotency_key is not None:
                first = await _first_with_key(conn, user_id, idempotency_key)
                if first is not None:
                    if not first.trade.answers(order, any_price=settlement.price is not None):
                        raise IdempotencyKeyReusedError()
                    return msgspec.structs.replace(first, cash=await cash_of(conn, user_id))
            order = settlement.executed(order)
            row = await (await conn.execute(_INSTRUMENT, (order.symbol,), prepare=True)).fetchone()
            if row is None:
                raise UnknownSymbolError(order.symbol)
            instrument_id, currency = row
            held = await (await conn.execute(_POSITION, (user_id, instrument_id), prepare=True)).fetchone()
            before = Position(quantity=held[0], average_cost=held[1], realized_pnl=held[2]) if held else Position()
            after, realized = before.apply(order)
            fee = gross_and_fee(order, settlement.fees)[1]
            await conn.execute(
                _UPSERT_HOLDING,
                (user_id, instrument_id, after.quantity, after.average_cost, after.realized_pnl),
                prepare=True,
            )
            cur = await conn.execute(
                _INSERT_TRADE,
                (
                    *(user_id, instrument_id, order.side, order.quantity, order.price, realized, idempotency_key),
                    *(after.quantity, after.average_cost, after.realized_pnl, fee),
                ),
                prepare=True,
            )
            trade_id, executed_at = await cur.fetchone() or (0, None)
            drafts = settle(order, currency.strip(), settlement.fees, trade_id)
            _, balances = await post_entries(conn, user_id, drafts, fx=settlement.fx, trade_id=trade_id)
            await append_audit(conn, audit.completed(target=trade_target(user_id, trade_id), trade_id=trade_id))
        trade = Trade(
            id=trade_id,
            user_id=user_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=order.price,
            realized_pnl=realized,
            executed_at=executed_at,
            fee=fee,
        )
        return TradeResult(trade=trade, position=after, cash={b.currency: b.amount for b in balances})

    async def history(self, user_id: int, *, limit: int, before: int | None) -> TradePage:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_HISTORY, (user_id, before or _NO_CURSOR, user_id, limit + 1), prepare=True)
            rows = await cur.fetchall()
            # Erased users' trades stay, but no longer as anyone's: their pages are empty, and then this says why.
            if not rows:
                _check_user(user_id, await (await conn.execute(_USER_EXISTS, (user_id,), prepare=True)).fetchone())
        trades = tuple(_trade(row) for row in rows[:limit])
        return TradePage(items=trades, next_before=trades[-1].id if len(rows) > limit else None)


def _check_user(user_id: int, row: tuple[object, ...] | None) -> None:
    if row is None:
        raise UserNotFoundError(user_id)
    if row[0] is not None:
        raise UserErasedError(user_id)


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
