"""The per-trade path: one trade booked inside the caller's transaction, shared by a single order and an import.

Whatever else a trade must move (its cash settlement, say) belongs here, so that both paths move it.
"""

from datetime import datetime

from psycopg import AsyncConnection

from domain.adapters.postgres.ledger import post_entries
from domain.adapters.postgres.pool import name_queries
from domain.adapters.postgres.webhook_outbox import append_event
from domain.errors import CurrencyNotTradableError, UnknownSymbolError, UserErasedError, UserNotFoundError
from domain.models.ledger import CASH, Settlement, gross_and_fee
from domain.models.ledger import settlement as settle
from domain.models.trades import Order, Position, Trade, TradeResult

# Locking the user row serialises one user's orders: no lost update on a first buy, and a
# repeated Idempotency-Key finds the first trade once it is committed.
_LOCK_USER = "SELECT erased_at FROM users WHERE id = %s FOR UPDATE"
_INSTRUMENT = "SELECT id, currency, asset_class FROM instruments WHERE symbol = %s"
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
                    position_quantity, position_average_cost, position_realized_pnl, fee, executed_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()))
RETURNING id, executed_at
"""
name_queries({
    _LOCK_USER: "trades.lock_user", _INSTRUMENT: "trades.instrument", _POSITION: "trades.position",
    _UPSERT_HOLDING: "trades.upsert_holding", _INSERT_TRADE: "trades.insert",
})  # fmt: skip


def check_user(user_id: int, row: tuple[object, ...] | None) -> None:
    """Raise for a user who does not exist (`row` None) or was erased (`row[0]`, its `erased_at`, set)."""
    if row is None:
        raise UserNotFoundError(user_id)
    if row[0] is not None:
        raise UserErasedError(user_id)


async def lock_user(conn: AsyncConnection, user_id: int) -> None:
    """Take the user's row lock to the end of the transaction; raises UserNotFoundError or UserErasedError."""
    check_user(user_id, await (await conn.execute(_LOCK_USER, (user_id,), prepare=True)).fetchone())


async def book_trade(
    conn: AsyncConnection,
    user_id: int,
    order: Order,
    *,
    idempotency_key: str | None = None,
    executed_at: datetime | None = None,
    settlement: Settlement = CASH,
) -> TradeResult:
    """Record `order`, apply it to the user's holding and settle it in cash (`settlement`: its price, fee and
    conversion), in `conn`'s open transaction (the caller holds the user's row lock). `executed_at` None is the
    transaction's time.

    Raises UnknownSymbolError, InsufficientHoldingsError or InvalidRequestError (InsufficientCashError among
    them, once the trade's rows are written: a caller that goes on after it runs each trade in a savepoint).
    """
    order = settlement.executed(order)
    row = await (await conn.execute(_INSTRUMENT, (order.symbol,), prepare=True)).fetchone()
    if row is None:
        raise UnknownSymbolError(order.symbol)
    instrument_id, currency, asset_class = row
    if asset_class == "cash":
        raise CurrencyNotTradableError(order.symbol)
    held = await (await conn.execute(_POSITION, (user_id, instrument_id), prepare=True)).fetchone()
    before = Position(quantity=held[0], average_cost=held[1], realized_pnl=held[2]) if held else Position()
    after, realized = before.apply(order)
    fee = gross_and_fee(order, settlement.fees)[1]
    await conn.execute(
        _UPSERT_HOLDING, (user_id, instrument_id, after.quantity, after.average_cost, after.realized_pnl), prepare=True
    )
    cur = await conn.execute(
        _INSERT_TRADE,
        (
            *(user_id, instrument_id, order.side, order.quantity, order.price, realized, idempotency_key),
            *(after.quantity, after.average_cost, after.realized_pnl, fee, executed_at),
        ),
        prepare=True,
    )
    trade_id, booked_at = await cur.fetchone() or (0, None)
    drafts = settle(order, currency.strip(), settlement.fees, trade_id)
    _, balances = await post_entries(conn, user_id, drafts, fx=settlement.fx, trade_id=trade_id)
    trade = Trade(
        id=trade_id,
        user_id=user_id,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        price=order.price,
        realized_pnl=realized,
        executed_at=booked_at,
        fee=fee,
    )
    await append_event(conn, user_id, "trade.created", trade)
    return TradeResult(trade=trade, position=after, cash={b.currency: b.amount for b in balances})
