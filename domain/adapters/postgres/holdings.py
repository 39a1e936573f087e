"""PostgreSQL holdings: one query for a user's existence and holdings together."""

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection, name_queries
from domain.models.holdings import Holding, Holdings
from domain.ports.holdings import HoldingsRepository

# One round trip: the LEFT JOIN tells "no such user" (no row) from "no holdings" (one row of NULLs). An erased
# user's holdings stay (financial records), but are no longer anyone's portfolio.
_HOLDINGS = """
SELECT h.instrument_id, h.quantity, h.average_cost
FROM users u
LEFT JOIN holdings h ON h.user_id = u.id AND h.quantity > 0
WHERE u.id = %s AND u.erased_at IS NULL
ORDER BY h.instrument_id
"""
name_queries({_HOLDINGS: "holdings.get"})


class PostgresHoldingsRepository(HoldingsRepository):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, user_id: int) -> Holdings | None:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_HOLDINGS, (user_id,), prepare=True)
            rows = await cur.fetchall()
        if not rows:
            return None
        items = tuple(
            Holding(instrument_id=iid, quantity=qty, average_cost=cost) for iid, qty, cost in rows if iid is not None
        )
        return Holdings(user_id=user_id, items=items)
