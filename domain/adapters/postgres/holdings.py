"""PostgreSQL holdings: one query for users' existence and holdings together; a group of users when busy."""

from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from psycopg_pool import AsyncConnectionPool

from domain import timing
from domain.adapters.postgres.pool import connection, name_queries
from domain.batching import BusyBatch
from domain.models.holdings import Cash, Holding, Holdings
from domain.ports.holdings import HoldingsRepository

# One round trip for a user, or for the users asked for while the reads in flight were busy (`BusyBatch`): the
# LEFT JOIN tells "no such user" (no row) from "no holdings" (one row of NULLs); the cash balances follow (part
# 2). An erased user's holdings stay (financial records), but are no longer anyone's.
_HOLDINGS = """
SELECT u.id AS user_id, 1 AS part, h.instrument_id, h.quantity, h.average_cost, NULL AS currency
FROM users u
LEFT JOIN holdings h ON h.user_id = u.id AND h.quantity > 0
WHERE u.id = ANY(%(users)s::bigint[]) AND u.erased_at IS NULL
UNION ALL
SELECT b.user_id, 2, NULL, b.balance, NULL, b.currency
FROM cash_balances b
WHERE b.user_id = ANY(%(users)s::bigint[]) AND b.balance > 0
ORDER BY user_id, part, instrument_id, currency
"""
name_queries({_HOLDINGS: "holdings.get"})
# Reads beyond these wait together for the next group; more in flight would only share the database's core.
_MAX_IN_FLIGHT = 2


class PostgresHoldingsRepository(HoldingsRepository):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        # A request that waited for a group adds its wait to its own Server-Timing (the group charges nobody).
        self._reads: BusyBatch[int, Holdings | None] = BusyBatch(
            self._get_many, max_in_flight=_MAX_IN_FLIGHT, waited=timing.add_db
        )

    async def get(self, user_id: int) -> Holdings | None:
        return await self._reads.submit(user_id)

    async def _get_many(self, user_ids: Sequence[int]) -> list[Holdings | None]:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_HOLDINGS, {"users": list(set(user_ids))}, prepare=True)
            rows = await cur.fetchall()
        found = {user_id: _holdings(user_id, list(group)) for user_id, group in groupby(rows, key=itemgetter(0))}
        return [found.get(user_id) for user_id in user_ids]


def _holdings(user_id: int, rows: list[tuple[Any, ...]]) -> Holdings | None:
    if rows[0][1] != 1:  # cash alone: the user was erased
        return None
    items = tuple(
        Holding(instrument_id=iid, quantity=qty, average_cost=cost)
        for _, part, iid, qty, cost, _ in rows
        if part == 1 and iid is not None
    )
    cash = tuple(Cash(currency=currency.strip(), amount=qty) for _, part, _, qty, _, currency in rows if part == 2)
    return Holdings(user_id=user_id, items=items, cash=cash)
