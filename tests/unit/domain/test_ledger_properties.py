"""Property: whatever the sequence of deposits, trades (with fees), cash dividends, splits (and reverse
splits) and withdrawals, the ledger adds up.

Run through the services over the in-memory twins (the contract suites hold the twins to PostgreSQL's
behaviour). After every sequence: each entry balances per currency, the cash is the sum of its postings
and never negative (no rule here allows an overdraft), and per currency

    realised + unrealised - fees + dividends = value - net contributions

where value = cash + Σ quantity x price, unrealised = Σ quantity x (price - average cost), and net
contributions = deposits - withdrawals. Dividends are income: cash that arrives without a contribution
and without a sale. Expanding both sides, the prices cancel: the identity says that cash + cost basis
(Σ quantity x average cost) moves only by contributions, realised profit, fees and dividends. A split
multiplies quantities by its ratio and divides costs and prices by it, so it changes neither side:
each split only adds the rounding of the new quantity and cost to 8 places, which the tolerance counts.
Across each split the market value of the holding is unchanged, to within the same 8-place rounding.
"""

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.adapters.memory.corporate_actions import InMemoryCorporateActionStore
from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.adapters.memory.trades import InMemoryTradeStore
from domain.errors import InsufficientCashError, InsufficientHoldingsError
from domain.models.audit import Actor
from domain.models.corporate_actions import CorporateActionDraft
from domain.models.ledger import CashMove, FeePolicy
from domain.models.quotes import Instrument, Quote
from domain.models.trades import Order
from domain.services.corporate_actions import CorporateActionService
from domain.services.ledger import LedgerService
from domain.services.trades import TradePolicy, TradeService

ACTOR, USER = Actor(name="user:1"), 1
# symbol: (instrument id, currency, the quote's price)
LISTED = {"AAA": (1, "USD", Decimal("12.34")), "BBB": (2, "USD", Decimal("250")), "CCC": (3, "EUR", Decimal("0.75"))}
ROUNDING = Decimal("0.0001")  # average costs are kept to 8 places: a few hundred operations drift far below this
PLACE = Decimal("0.00000001")  # one unit of the 8th place: a split's rounding of a quantity, cost or price
FIRST_DAY = date(2030, 1, 7)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(50_000), places=2)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=2)
quantities = st.integers(min_value=1, max_value=200).map(Decimal)
per_share = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(5), places=2)
terms = st.integers(min_value=1, max_value=10)
ratios = st.builds(Fraction, terms, terms).filter(lambda r: r != 1)  # forward (2, 3/2) and reverse (1/4) splits
operations = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["deposit", "withdrawal"]), st.sampled_from(["USD", "EUR"]), amounts),
        st.tuples(st.sampled_from(["buy", "sell"]), st.sampled_from(sorted(LISTED)), quantities, prices),
        st.tuples(st.just("dividend"), st.sampled_from(sorted(LISTED)), per_share),
        st.tuples(st.just("split"), st.sampled_from(sorted(LISTED)), ratios),
    ),
    max_size=40,
)
fees = st.builds(FeePolicy, bps=st.integers(0, 100).map(Decimal), minimum=st.sampled_from([Decimal(0), Decimal(1)]))


class World:
    """The services over one set of twins, and what the checks need: net contributions and the rounding
    budget the splits have added, per currency."""

    def __init__(self, fee: FeePolicy) -> None:
        self.quotes = InMemoryQuoteRepository()
        for symbol, (iid, currency, price) in LISTED.items():
            self.quotes.instruments[iid] = Instrument(
                id=iid, symbol=symbol, name=symbol, asset_class="equity", currency=currency, exchange="X"
            )
            self.quotes.quotes[iid] = Quote(
                instrument_id=iid, price=price, bid=price, ask=price, previous_close=price, day_high=price,
                day_low=price, volume=0, as_of=datetime(2030, 1, 1, tzinfo=UTC),
            )  # fmt: skip
        holdings = InMemoryHoldingsRepository()
        holdings.add_user(USER)
        self.store = InMemoryTradeStore(holdings, self.quotes)
        actions = InMemoryCorporateActionStore(self.quotes, holdings, self.store.ledger)

        async def invalidate(user_id: int) -> None:
            return None

        self.trades = TradeService(self.store, invalidate, policy=TradePolicy(fees=fee))
        self.ledger = LedgerService(self.store.ledger, invalidate)
        self.actions = CorporateActionService(actions, invalidate)
        self.day = FIRST_DAY  # the next market day to run
        self.contributed: dict[str, Decimal] = {}
        self.budget: dict[str, Decimal] = {}

    def price(self, symbol: str) -> Decimal:
        return self.quotes.quotes[LISTED[symbol][0]].price

    def held(self, symbol: str) -> tuple[Decimal, Decimal]:
        lot = next((h for h in self.store.holdings_of(USER) if h.instrument_id == LISTED[symbol][0]), None)
        return (lot.quantity, lot.average_cost) if lot else (Decimal(0), Decimal(0))

    async def step(self, step: tuple) -> None:
        if step[0] in ("deposit", "withdrawal"):
            kind, currency, amount = step
            await self.ledger.move(USER, CashMove(kind=kind, amount=amount, currency=currency), actor=ACTOR)
            signed = amount if kind == "deposit" else -amount
            self.contributed[currency] = self.contributed.get(currency, Decimal(0)) + signed
        elif step[0] in ("buy", "sell"):
            side, symbol, quantity, price = step
            await self.trades.place(USER, Order(symbol=symbol, side=side, quantity=quantity, price=price), actor=ACTOR)
        elif step[0] == "dividend":
            await self.dividend(step[1], step[2])
        else:
            await self.split(step[1], step[2])

    async def dividend(self, symbol: str, amount: Decimal) -> None:
        """Ex-date and pay date the day after the next run: that run records the holders, the next one pays."""
        ex_date = self.day + timedelta(days=1)
        draft = CorporateActionDraft(
            kind="dividend", symbol=symbol, ex_date=ex_date, amount_per_share=amount, pay_date=ex_date
        )
        await self.actions.record(draft, actor=ACTOR)
        await self.actions.run(self.day)
        await self.actions.run(ex_date)
        self.day += timedelta(days=2)

    async def split(self, symbol: str, ratio: Fraction) -> None:
        quantity, cost = self.held(symbol)
        value = quantity * self.price(symbol)
        draft = CorporateActionDraft(kind="split", symbol=symbol, ex_date=self.day + timedelta(days=1), ratio=ratio)
        await self.actions.record(draft, actor=ACTOR)
        done = await self.actions.run(self.day)
        assert done is not None
        assert (done.splits, done.failed) == (1, 0)
        self.day += timedelta(days=1)
        after_quantity, after_cost = self.held(symbol)
        price = self.price(symbol)
        # The market value is unchanged across the split, but for the 8-place rounding of quantity and price.
        assert abs(after_quantity * price - value) <= PLACE * (after_quantity + price), (symbol, ratio)
        assert abs(after_quantity * after_cost - quantity * cost) <= PLACE * (after_quantity + after_cost)
        currency = LISTED[symbol][1]
        self.budget[currency] = self.budget.get(currency, Decimal(0)) + PLACE * (after_quantity + after_cost)


async def _run(fee: FeePolicy, steps: list[tuple]) -> dict[str, Decimal]:
    """Apply the steps (refusals change nothing); the net contributions per currency."""
    world = World(fee)
    for step in steps:
        try:
            await world.step(step)
        except (InsufficientCashError, InsufficientHoldingsError):
            continue
    _check(world)
    return world.contributed


def _check(world: World) -> None:
    store = world.store
    cash_postings: dict[str, Decimal] = {}
    dividends: dict[str, Decimal] = {}
    for entry in store.ledger.entries_booked:
        per_currency: dict[str, Decimal] = {}
        for p in entry.postings:
            per_currency[p.currency] = per_currency.get(p.currency, Decimal(0)) + p.amount
            if p.account == "cash":
                cash_postings[p.currency] = cash_postings.get(p.currency, Decimal(0)) + p.amount
                if entry.kind == "dividend":
                    dividends[p.currency] = dividends.get(p.currency, Decimal(0)) + p.amount
        assert not any(per_currency.values()), entry
    balances = store.ledger.cash.get(USER, {})
    assert {c: v for c, v in balances.items() if v} == {c: v for c, v in cash_postings.items() if v}
    assert all(v >= 0 for v in balances.values())
    for currency in {*world.contributed, *(c for _, c, _ in LISTED.values())}:
        _check_profit(world, currency, balances.get(currency, Decimal(0)), dividends.get(currency, Decimal(0)))


def _check_profit(world: World, currency: str, cash: Decimal, dividends: Decimal) -> None:
    mine = [s for s, (_, c, _) in LISTED.items() if c == currency]
    trades = [t for t in world.store.trades if t.symbol in mine]
    realised = sum((t.realized_pnl for t in trades), Decimal(0))
    paid = sum((t.fee for t in trades), Decimal(0))
    lots = {s: world.held(s) for s in mine}
    unrealised = sum((q * (world.price(s) - cost) for s, (q, cost) in lots.items()), Decimal(0))
    value = cash + sum((q * world.price(s) for s, (q, _) in lots.items()), Decimal(0))
    contributed = world.contributed.get(currency, Decimal(0))
    tolerance = ROUNDING + world.budget.get(currency, Decimal(0))
    assert abs((realised + unrealised - paid + dividends) - (value - contributed)) <= tolerance, currency


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fee=fees, steps=operations)
def test_the_ledger_adds_up_whatever_the_sequence(fee: FeePolicy, steps: list[tuple]) -> None:
    asyncio.run(_run(fee, steps))


def test_the_property_sees_refusals_and_successes() -> None:
    """A fixed sequence, so the property above is known to reach both paths."""
    steps = [("deposit", "USD", Decimal(100)), ("buy", "AAA", Decimal(5), Decimal(10)),
             ("buy", "BBB", Decimal(1), Decimal(250)), ("sell", "AAA", Decimal(2), Decimal(11)),
             ("withdrawal", "USD", Decimal(500))]  # fmt: skip
    assert asyncio.run(_run(FeePolicy(minimum=Decimal(1)), steps)) == {"USD": Decimal(100)}


def test_the_property_sees_dividends_paid_and_splits_both_ways() -> None:
    """A fixed sequence: a dividend is paid on the shares held at the ex-date, a 3-for-1 split and a
    1-for-4 reverse split keep the value, and the sale after them realises the adjusted cost."""
    world = World(FeePolicy())
    steps = [("deposit", "USD", Decimal(1000)), ("buy", "AAA", Decimal(12), Decimal(10)),
             ("dividend", "AAA", Decimal("0.5")), ("split", "AAA", Fraction(3)),
             ("split", "AAA", Fraction(1, 4)), ("sell", "AAA", Decimal(9), Decimal(20))]  # fmt: skip

    async def run() -> None:
        for step in steps:
            await world.step(step)

    asyncio.run(run())
    assert world.store.ledger.cash[USER]["USD"] == Decimal(1000 - 120 + 6 + 180)
    assert world.held("AAA")[0] == 0  # 12 shares became 36, then 9: all sold
    assert world.price("AAA") == Decimal("16.45333332")  # 12.34 / 3 = 4.11333333 (8 places), x 4
    assert world.store.trades[-1].realized_pnl == 9 * (20 - Decimal("13.33333332"))  # the cost 10 / 3 x 4
    _check(world)
