"""PostgreSQL holdings: one query for a user's existence and holdings together."""

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection, name_queries
from domain.models.holdings import Cash, Holding, Holdings
from domain.ports.holdings import HoldingsRepository

# One round trip: the LEFT JOIN tells "no such user" (no row) from "no holdings" (one row of NULLs); the cash
# balances follow (part 2). An erased user's holdings stay (financial records), but are no longer anyone's.
_HOLDINGS = """
SELECT 1 AS part, h.instrument_id, h.quantity, h.average_cost, NULL AS currency
FROM users u
LEFT JOIN holdings h ON h.user_id = u.id AND h.quantity > 0
WHERE u.id = %(user)s AND u.erased_at IS NULL
UNION ALL
SELECT 2, NULL, b.balance, NULL, b.currency
FROM cash_balances b
WHERE b.user_id = %(user)s AND b.balance > 0
ORDER BY part, instrument_id, currency
"""
name_queries({_HOLDINGS: "holdings.get"})


class PostgresHoldingsRepository(HoldingsRepository):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, user_id: int) -> Holdings | None:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_HOLDINGS, {"user": user_id}, prepare=True)
            rows = await cur.fetchall()
        if not rows or rows[0][0] != 1:
            return None
        items = tuple(
            Holding(instrument_id=iid, quantity=qty, average_cost=cost)
            for part, iid, qty, cost, _ in rows
            if part == 1 and iid is not None
        )
        cash = tuple(Cash(currency=currency.strip(), amount=qty) for part, _, qty, _, currency in rows if part == 2)
        return Holdings(user_id=user_id, items=items, cash=cash)
