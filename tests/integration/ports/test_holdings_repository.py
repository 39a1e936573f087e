"""One contract for the holdings record, run against the in-memory twin and the real PostgreSQL adapter."""

import asyncio
from decimal import Decimal

import pytest

from domain.models.holdings import Holding, Holdings
from tests.integration.ports.conftest import World, new_id

pytestmark = pytest.mark.integration


def lot(instrument_id: int, quantity: str, average_cost: str = "10") -> Holding:
    return Holding(instrument_id=instrument_id, quantity=Decimal(quantity), average_cost=Decimal(average_cost))


async def test_an_unknown_user_reads_as_none(world: World):
    assert await world.holdings.get(new_id()) is None


async def test_a_user_without_holdings_reads_as_empty_holdings(world: World):
    user = await world.user()
    assert await world.holdings.get(user) == Holdings(user_id=user, items=())


async def test_holdings_come_in_instrument_order_without_the_sold_out_lots(world: World):
    a, b, c = [(await world.instrument()).id for _ in range(3)]
    user = await world.user(lot(c, "2.5", "101.12345678"), lot(a, "0", "0"), lot(b, "0.00000001", "7"))
    holdings = await world.holdings.get(user)
    assert holdings == Holdings(user_id=user, items=(lot(b, "0.00000001", "7"), lot(c, "2.5", "101.12345678")))
    assert holdings is not None
    assert [type(h.quantity) for h in holdings.items] == [Decimal, Decimal]  # money stays exact


async def test_each_user_reads_only_their_own_holdings(world: World):
    a = (await world.instrument()).id
    mine, theirs = await world.user(lot(a, "1")), await world.user(lot(a, "5"))
    assert await world.holdings.get(mine) == Holdings(user_id=mine, items=(lot(a, "1"),))
    assert await world.holdings.get(theirs) == Holdings(user_id=theirs, items=(lot(a, "5"),))


async def test_users_read_in_the_same_turn_each_get_their_own_holdings(world: World):
    # The PostgreSQL adapter reads two at once and the users asked for while those are under way with one query.
    a, b = (await world.instrument()).id, (await world.instrument()).id
    users = [await world.user(lot(a, str(n + 1)), lot(b, "0.5")) for n in range(5)]
    empty, unknown = await world.user(), new_id()
    asked = [*users, empty, unknown, users[0]]
    read = await asyncio.gather(*(world.holdings.get(user) for user in asked))
    expected = [Holdings(user_id=u, items=(lot(a, str(n + 1)), lot(b, "0.5"))) for n, u in enumerate(users)]
    assert read == [*expected, Holdings(user_id=empty, items=()), None, expected[0]]
