"""The contract of the value-history source (the performance figures' inputs), run against the in-memory
twin and the PostgreSQL adapter.

The twin is given the values and flows; PostgreSQL rebuilds the same ones from rows: a deposit of 100 and
a buy of one share at 100 on day 0, a deposit of 50 on day 3 and a withdrawal of 20 on day 8, and closes of
the share that make the value 100 + i on day i.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from domain.adapters.memory.performance import InMemoryValueHistory
from domain.adapters.postgres.performance import PostgresValueHistory
from domain.adapters.postgres.pool import Pool
from domain.errors import UnknownSymbolError, UserNotFoundError
from domain.models.performance import DailyValue, ExternalFlow
from domain.ports.performance import ValueHistorySource
from tests.integration.ports.conftest import new_id

pytestmark = pytest.mark.integration
START = date(2026, 3, 2)


def day(n: int) -> date:
    return START + timedelta(days=n)


def at(d: date) -> datetime:
    return datetime.combine(d, time(12), tzinfo=UTC)


def share_close(i: int) -> Decimal:
    """The share's close on day i: the value 100 + i less the cash held that day (0, then 50, then 30)."""
    return Decimal(100 + i - (0 if i < 3 else 50 if i < 8 else 30))


@dataclass
class Laid:
    source: ValueHistorySource
    user: int
    quiet: int
    benchmark: str
    deposit: Callable[[int, date, Decimal], Awaitable[None]]


def _memory() -> Laid:
    twin = InMemoryValueHistory()
    user, quiet = new_id(), new_id()
    twin.add_user(quiet)
    twin.record(user, *(DailyValue(day=day(i), value=Decimal(100 + i)) for i in range(10)))
    twin.record(user, ExternalFlow(day=day(3), amount=Decimal(50)), ExternalFlow(day=day(8), amount=Decimal(-20)))
    twin.record_closes("BENCH", *(DailyValue(day=day(i), value=share_close(i)) for i in range(10)))

    async def deposit(user_id: int, on: date, amount: Decimal) -> None:
        twin.record(user_id, ExternalFlow(day=on, amount=amount))

    return Laid(twin, user, quiet, "BENCH", deposit)


async def _postgres(pool: Pool) -> Laid:
    user, quiet, share = new_id(), new_id(), new_id()

    async def entry(user_id: int, kind: str, on: date, amount: Decimal, counter: str = "bank") -> None:
        async with pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO ledger_entries (user_id, kind, booked_at) VALUES (%s, %s, %s) RETURNING id",
                (user_id, kind, at(on)),
            )
            (entry_id,) = await cur.fetchone() or (0,)
            await conn.execute(
                "INSERT INTO ledger_postings (entry_id, line, account, currency, amount)"
                " VALUES (%s, 0, 'cash', 'USD', %s), (%s, 1, %s, 'USD', %s)",
                (entry_id, amount, entry_id, counter, -amount),
            )

    async with pool.connection() as conn, conn.transaction():
        for uid in (user, quiet):
            await conn.execute(
                "INSERT INTO users (id, email, name) VALUES (%s, %s, %s)", (uid, f"user{uid}@example.com", "Owner")
            )
        await conn.execute(
            "INSERT INTO instruments (id, symbol, name, asset_class, currency, exchange)"
            " VALUES (%s, %s, 'Share', 'equity', 'USD', 'TEST')",
            (share, f"CT{share}"),
        )
        for i in range(10):
            await conn.execute(
                "INSERT INTO daily_prices (instrument_id, day, close) VALUES (%s, %s, %s)",
                (share, day(i), share_close(i)),
            )
        await conn.execute(
            "INSERT INTO trades (user_id, instrument_id, side, quantity, price, executed_at)"
            " VALUES (%s, %s, 'buy', 1, 100, %s)",
            (user, share, at(day(0))),
        )
    await entry(user, "deposit", day(0), Decimal(100))
    await entry(user, "trade", day(0), Decimal(-100), "market")  # the buy's settlement: internal, not a flow
    await entry(user, "deposit", day(3), Decimal(50))
    await entry(user, "withdrawal", day(8), Decimal(-20))

    async def deposit(user_id: int, on: date, amount: Decimal) -> None:
        await entry(user_id, "deposit", on, amount)

    return Laid(PostgresValueHistory(pool, "USD"), user, quiet, f"CT{share}", deposit)


@pytest.fixture(params=["memory", "postgres"])
async def laid(request: pytest.FixtureRequest, contract_pool: Pool) -> Laid:
    return _memory() if request.param == "memory" else await _postgres(contract_pool)


async def test_values_oldest_first_and_flows_within_the_period_inclusive(laid: Laid):
    h = await laid.source.history(laid.user, day(3), day(8))
    assert [v.day for v in h.values] == [day(i) for i in range(3, 9)]
    assert [v.value for v in h.values] == [Decimal(100 + i) for i in range(3, 9)]
    assert [(f.day, f.amount) for f in h.flows] == [(day(3), Decimal(50)), (day(8), Decimal(-20))]
    inner = await laid.source.history(laid.user, day(4), day(7))
    assert (len(inner.values), inner.flows) == (4, ())


async def test_a_user_with_nothing_has_an_empty_history_and_an_unknown_user_is_refused(laid: Laid):
    h = await laid.source.history(laid.quiet, day(0), day(30))
    assert (h.values, h.flows) == ((), ())
    with pytest.raises(UserNotFoundError):
        await laid.source.history(new_id(), day(0), day(30))
    with pytest.raises(UserNotFoundError):
        await laid.source.version(new_id())


async def test_the_version_changes_with_a_new_deposit_and_the_history_with_it(laid: Laid):
    before = await laid.source.version(laid.user)
    assert await laid.source.version(laid.user) == before
    await laid.deposit(laid.user, day(9), Decimal(5))
    assert await laid.source.version(laid.user) != before
    h = await laid.source.history(laid.user, day(9), day(9))
    assert [f.amount for f in h.flows] == [Decimal(5)]


async def test_an_instruments_closes_and_an_unknown_benchmark_named(laid: Laid):
    closes = await laid.source.closes(laid.benchmark, day(2), day(4))
    assert [(c.day, c.value) for c in closes] == [(day(i), share_close(i)) for i in range(2, 5)]
    with pytest.raises(UnknownSymbolError) as refused:
        await laid.source.closes("NOSUCH-SYMBOL", day(0), day(9))
    assert refused.value.field == "benchmark"


async def test_postgres_values_a_holding_no_trade_explains_from_the_first_day_and_converts_currencies(
    contract_pool: Pool,
):
    """A lot loaded with its opening deposit and settlement (as the demo data's are) counts from the opening
    day; cash and a holding in EUR count at the day's close of CASH-EUR (quoted in the base currency)."""
    user, share, eur = new_id(), new_id(), new_id()
    currency = "X" + chr(65 + eur % 26) + chr(65 + eur // 26 % 26)  # a currency of this test's own
    async with contract_pool.connection() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO users (id, email, name) VALUES (%s, %s, 'Owner')", (user, f"u{user}@example.com")
        )
        await conn.execute(
            "INSERT INTO instruments (id, symbol, name, asset_class, currency, exchange) VALUES"
            " (%s, %s, 'Share', 'equity', 'EUR', 'TEST'), (%s, %s, 'Euro', 'cash', 'USD', 'TEST')",
            (share, f"CT{share}", eur, f"CASH-{currency}"),
        )
        await conn.execute(
            "INSERT INTO daily_prices (instrument_id, day, close) VALUES (%s, %s, 20), (%s, %s, 25), (%s, %s, 2),"
            " (%s, %s, 3)",
            (share, day(20), share, day(21), eur, day(20), eur, day(21)),
        )
        await conn.execute(
            "INSERT INTO holdings (user_id, instrument_id, quantity, average_cost) VALUES (%s, %s, 4, 20)",
            (user, share),
        )
        cur = await conn.execute(
            "INSERT INTO ledger_entries (user_id, kind, booked_at) VALUES (%s, 'deposit', %s), (%s, 'trade', %s)"
            " RETURNING id",
            (user, at(day(20)), user, at(day(20))),
        )
        deposit, settlement = [row[0] for row in await cur.fetchall()]
        await conn.execute(
            "INSERT INTO ledger_postings (entry_id, line, account, currency, amount) VALUES"
            " (%s, 0, 'cash', %s, 100), (%s, 1, 'bank', %s, -100), (%s, 0, 'cash', %s, -80), (%s, 1, 'market', %s, 80)",
            (deposit, currency, deposit, currency, settlement, currency, settlement, currency),
        )
        await conn.execute("UPDATE instruments SET currency = %s WHERE id = %s", (currency, share))
    h = await PostgresValueHistory(contract_pool, "USD").history(user, day(19), day(21))
    # day 20: (4 x 20 + 20 cash) x 2; day 21: (4 x 25 + 20) x 3; the deposit of 100 at 2
    assert [(v.day, v.value) for v in h.values] == [(day(20), Decimal(200)), (day(21), Decimal(360))]
    assert [(f.day, f.amount) for f in h.flows] == [(day(20), Decimal(200))]
