"""One contract for the corporate action store, run against the in-memory twin and the real PostgreSQL adapter.

Both work in the contract suites' own database (conftest.py). A run is recorded per day and applies every
pending action whose ex-date has come, so each test takes days of its own, later than any earlier test's,
and actions on instruments of its own.
"""

import itertools
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from domain.adapters.memory.corporate_actions import InMemoryCorporateActionStore
from domain.adapters.postgres.corporate_actions import PostgresCorporateActionStore
from domain.errors import InvalidRequestError, UnknownSymbolError
from domain.models.audit import AuditEntry, AuditQuery
from domain.models.corporate_actions import (
    CORPORATE_ACTION_FAIL,
    CORPORATE_ACTION_RECORD,
    CORPORATE_ACTION_RUN,
    CorporateAction,
    CorporateActionDraft,
)
from domain.models.holdings import Holding
from domain.ports.corporate_actions import CorporateActionStore
from tests.integration.ports.conftest import CONTRACT_ACTOR, MemoryWorld, PostgresWorld, World, closes_on, quote_of

pytestmark = pytest.mark.integration
_weeks = itertools.count()
RECORD = AuditEntry.by(CONTRACT_ACTOR, CORPORATE_ACTION_RECORD, "instrument:contract")
RUN = AuditEntry.by(CONTRACT_ACTOR, CORPORATE_ACTION_RUN, "market-day:contract")


def fresh_day() -> date:
    """A day later than every day an earlier test used (a week apart, so a test may use the next few)."""
    return date(2100, 1, 4) + timedelta(weeks=next(_weeks))


@pytest.fixture
def store(world: World) -> CorporateActionStore:
    if isinstance(world, MemoryWorld):
        return InMemoryCorporateActionStore(world._quotes, world._holdings, world.ledger)  # type: ignore[arg-type]
    assert isinstance(world, PostgresWorld)
    return PostgresCorporateActionStore(world._pool)


def split(symbol: str, ex_date: date, ratio: Fraction) -> CorporateActionDraft:
    return CorporateActionDraft(kind="split", symbol=symbol, ex_date=ex_date, ratio=ratio)


async def listed(store: CorporateActionStore, action_id: int) -> CorporateAction:
    return next(a for a in await store.list(limit=50) if a.id == action_id)


async def lot(world: World, user: int, instrument_id: int) -> tuple[Decimal, Decimal]:
    holdings = await world.holdings.get(user)
    assert holdings is not None
    found = next(h for h in holdings.items if h.instrument_id == instrument_id)
    return found.quantity, found.average_cost


async def test_a_split_multiplies_holdings_and_divides_costs_quotes_and_earlier_closes(world, store):
    day = fresh_day()
    ex_date = day + timedelta(days=1)
    prices = {"price": "100", "bid": "99.9", "ask": "100.1", "previous_close": "98", "day_high": "101", "day_low": "97"}
    closes = closes_on((day - timedelta(days=1), "90"), (day, "96"), (ex_date, "100"))
    inst = await world.instrument(quote_of(0, **prices), closes)
    user = await world.user(Holding(instrument_id=inst.id, quantity=Decimal(10), average_cost=Decimal(80)))
    recorded = await store.record(split(inst.symbol, ex_date, Fraction(5, 2)), audit=RECORD)
    assert (recorded.state, recorded.ratio, recorded.applied_at) == ("pending", Fraction(5, 2), None)
    before = await world.quotes.latest_version()

    done = await store.run(day, audit=RUN)
    assert done is not None
    assert (done.failed, user in done.users) == (0, True)
    assert done.splits >= 1
    assert done.version is not None
    assert done.version > before
    assert await lot(world, user, inst.id) == (Decimal(25), Decimal(32))  # market value 25 x 40 = 10 x 100
    quote = (await world.quotes.load_snapshot("USD")).quotes[inst.id]
    assert (quote.price, quote.bid, quote.ask, quote.previous_close, quote.day_high, quote.day_low) == tuple(
        Decimal(v) for v in ("40", "39.96", "40.04", "39.2", "40.4", "38.8")
    )
    assert [c.close for c in await world.quotes.daily_closes(inst.id, 3)] == [Decimal(36), Decimal("38.4"), 100]
    assert (await listed(store, recorded.id)).state == "applied"
    assert await store.run(day, audit=RUN) is None  # delivered again: nothing twice
    assert await lot(world, user, inst.id) == (Decimal(25), Decimal(32))


async def test_a_reverse_split_rounds_to_eight_places(world, store):
    day = fresh_day()
    inst = await world.instrument(quote_of(0, price="1.5"))
    user = await world.user(Holding(instrument_id=inst.id, quantity=Decimal(10), average_cost=Decimal(3)))
    await store.record(split(inst.symbol, day + timedelta(days=1), Fraction(1, 3)), audit=RECORD)
    assert await store.run(day, audit=RUN) is not None
    assert await lot(world, user, inst.id) == (Decimal("3.33333333"), Decimal(9))
    assert (await world.quotes.load_snapshot("USD")).quotes[inst.id].price == Decimal("4.5")


async def test_a_dividend_pays_the_holders_before_its_ex_date_once_on_its_pay_date(world, store):
    day = fresh_day()
    ex_date, pay_date = day + timedelta(days=1), day + timedelta(days=3)
    inst = await world.instrument(quote_of(0, price="20"), currency="EUR")
    user = await world.user(Holding(instrument_id=inst.id, quantity=Decimal(10), average_cost=Decimal(20)))
    draft = CorporateActionDraft(
        kind="dividend", symbol=inst.symbol, ex_date=ex_date, amount_per_share=Decimal("0.35"), pay_date=pay_date
    )
    recorded = await store.record(draft, audit=RECORD)
    assert recorded.currency == "EUR"

    first = await store.run(day, audit=RUN)
    assert first is not None
    assert first.holders_recorded >= 1
    assert await world.ledger.balances(user) == ()  # recorded, not paid yet
    paid = await store.run(pay_date, audit=RUN)
    assert paid is not None
    assert user in paid.users
    again = await store.run(pay_date + timedelta(days=1), audit=RUN)
    assert again is not None
    assert user not in again.users
    [balance] = await world.ledger.balances(user)
    assert (balance.currency, balance.amount) == ("EUR", Decimal("3.5"))
    assert ((await listed(store, recorded.id)).paid, (await listed(store, recorded.id)).state) == (1, "applied")


async def test_an_action_the_columns_cannot_hold_fails_alone_and_the_run_goes_on(world, store):
    day = fresh_day()
    ex_date = day + timedelta(days=1)
    huge, fine = await world.instrument(quote_of(0, price="5")), await world.instrument(quote_of(0, price="8"))
    whale = await world.user(Holding(instrument_id=huge.id, quantity=Decimal(10) ** 17, average_cost=Decimal(1)))
    holder = await world.user(Holding(instrument_id=fine.id, quantity=Decimal(10), average_cost=Decimal(8)))
    poison = await store.record(split(huge.symbol, ex_date, Fraction(1000)), audit=RECORD)  # 10^20 shares
    later = await store.record(split(fine.symbol, ex_date, Fraction(2)), audit=RECORD)

    done = await store.run(day, audit=RUN)
    assert done is not None
    assert done.failed == 1
    assert done.splits >= 1
    assert await lot(world, whale, huge.id) == (Decimal(10) ** 17, Decimal(1))  # rolled back: nothing changed
    assert (await world.quotes.load_snapshot("USD")).quotes[huge.id].price == Decimal(5)
    assert await lot(world, holder, fine.id) == (Decimal(20), Decimal(4))
    failed = await listed(store, poison.id)
    assert (failed.state, failed.failure, failed.applied_at) == ("failed", "numeric field overflow", None)
    assert (await listed(store, later.id)).state == "applied"
    page = await world.audit.page(AuditQuery(action=CORPORATE_ACTION_FAIL), limit=1, before=None)
    assert page.items[0].target == f"corporate-action:{poison.id}"
    next_day = await store.run(day + timedelta(days=1), audit=RUN)
    assert next_day is not None
    assert next_day.failed == 0  # never tried again


async def test_recording_names_an_unknown_symbol_a_currency_and_an_ex_date_a_run_has_passed(world, store):
    inst = await world.instrument(quote_of(0, price="3"))
    cash = await world.instrument(quote_of(0, price="1.1"), asset_class="cash", currency="EUR")
    day = fresh_day()
    with pytest.raises(UnknownSymbolError):
        await store.record(split("NOSUCH", day + timedelta(days=5), Fraction(2)), audit=RECORD)
    with pytest.raises(InvalidRequestError) as currency:
        await store.record(split(cash.symbol, day + timedelta(days=5), Fraction(2)), audit=RECORD)
    assert currency.value.field == "symbol"
    assert await store.run(day, audit=RUN) is not None
    with pytest.raises(InvalidRequestError) as passed:
        await store.record(split(inst.symbol, day + timedelta(days=1), Fraction(2)), audit=RECORD)
    assert passed.value.field == "ex_date"
    accepted = await store.record(split(inst.symbol, day + timedelta(days=2), Fraction(2)), audit=RECORD)
    assert accepted.state == "pending"
    page = await world.audit.page(AuditQuery(action=CORPORATE_ACTION_RECORD), limit=1, before=None)
    assert page.items[0].target == f"corporate-action:{accepted.id}"
