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
# The instrument and the user's position in it, the position's row locked: one round trip.
_INSTRUMENT_POSITION = """
SELECT i.id, i.currency, i.asset_class, h.quantity, h.average_cost, h.realized_pnl
FROM instruments i
LEFT JOIN LATERAL (
    SELECT quantity, average_cost, realized_pnl FROM holdings
    WHERE user_id = %s AND instrument_id = i.id FOR UPDATE
) h ON true
WHERE i.symbol = %s
"""
# The holding moved and the trade recorded, in one statement.
_BOOK = """
WITH holding AS (
    INSERT INTO holdings (user_id, instrument_id, quantity, average_cost, realized_pnl, updated_at)
    VALUES (%(user)s, %(instrument)s, %(quantity)s, %(average_cost)s, %(realized_pnl)s, now())
    ON CONFLICT (user_id, instrument_id) DO UPDATE
    SET quantity = EXCLUDED.quantity, average_cost = EXCLUDED.average_cost,
        realized_pnl = EXCLUDED.realized_pnl, updated_at = now()
)
INSERT INTO trades (user_id, instrument_id, side, quantity, price, realized_pnl, idempotency_key,
                    position_quantity, position_average_cost, position_realized_pnl, fee, executed_at)
VALUES (%(user)s, %(instrument)s, %(side)s, %(order_quantity)s, %(price)s, %(realized)s, %(key)s,
        %(quantity)s, %(average_cost)s, %(realized_pnl)s, %(fee)s, coalesce(%(executed_at)s, now()))
RETURNING id, executed_at
"""
name_queries({
    _LOCK_USER: "trades.lock_user", _INSTRUMENT_POSITION: "trades.instrument_position", _BOOK: "trades.book",
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
    row = await (await conn.execute(_INSTRUMENT_POSITION, (user_id, order.symbol), prepare=True)).fetchone()
    if row is None:
        raise UnknownSymbolError(order.symbol)
    instrument_id, currency, asset_class, quantity, average_cost, realized_pnl = row
    if asset_class == "cash":
        raise CurrencyNotTradableError(order.symbol)
    before = Position()  # no holding yet
    if quantity is not None:
        before = Position(quantity=quantity, average_cost=average_cost, realized_pnl=realized_pnl)
    after, realized = before.apply(order)
    fee = gross_and_fee(order, settlement.fees)[1]
    params = {
        "user": user_id, "instrument": instrument_id, "side": order.side, "order_quantity": order.quantity,
        "price": order.price, "realized": realized, "key": idempotency_key, "quantity": after.quantity,
        "average_cost": after.average_cost, "realized_pnl": after.realized_pnl, "fee": fee, "executed_at": executed_at,
    }  # fmt: skip
    cur = await conn.execute(_BOOK, params, prepare=True)
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
