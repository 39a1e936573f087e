"""Property: whatever the sequence of deposits, trades (with fees) and withdrawals, the ledger adds up.

Run through the services over the in-memory twins (the contract suite holds the twins to PostgreSQL's
behaviour). After every sequence: each entry balances per currency, the cash is the sum of its postings
and never negative, and per currency realised + unrealised profit - fees = value - net contributions,
to within the average cost's rounding at 8 decimal places.
"""

import asyncio
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.adapters.memory.trades import InMemoryTradeStore
from domain.errors import InsufficientCashError, InsufficientHoldingsError
from domain.models.audit import Actor
from domain.models.ledger import CashMove, FeePolicy
from domain.models.quotes import Instrument
from domain.models.trades import Order
from domain.services.ledger import LedgerService
from domain.services.trades import TradePolicy, TradeService

ACTOR, USER = Actor(name="user:1"), 1
# symbol: (instrument id, currency, the quote's price)
LISTED = {"AAA": (1, "USD", Decimal("12.34")), "BBB": (2, "USD", Decimal("250")), "CCC": (3, "EUR", Decimal("0.75"))}
ROUNDING = Decimal("0.0001")  # average costs are kept to 8 places: a few hundred operations drift far below this

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(50_000), places=2)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=2)
quantities = st.integers(min_value=1, max_value=200).map(Decimal)
operations = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["deposit", "withdrawal"]), st.sampled_from(["USD", "EUR"]), amounts),
        st.tuples(st.sampled_from(["buy", "sell"]), st.sampled_from(sorted(LISTED)), quantities, prices),
    ),
    max_size=40,
)
fees = st.builds(FeePolicy, bps=st.integers(0, 100).map(Decimal), minimum=st.sampled_from([Decimal(0), Decimal(1)]))


def _world(fee: FeePolicy) -> tuple[TradeService, LedgerService, InMemoryTradeStore]:
    quotes = InMemoryQuoteRepository()
    for symbol, (iid, currency, _) in LISTED.items():
        quotes.instruments[iid] = Instrument(
            id=iid, symbol=symbol, name=symbol, asset_class="equity", currency=currency, exchange="X"
        )
    holdings = InMemoryHoldingsRepository()
    holdings.add_user(USER)
    store = InMemoryTradeStore(holdings, quotes)

    async def invalidate(user_id: int) -> None:
        return None

    return TradeService(store, invalidate, policy=TradePolicy(fees=fee)), LedgerService(store.ledger, invalidate), store


async def _run(fee: FeePolicy, steps: list[tuple]) -> dict[str, Decimal]:
    """Apply the steps (refusals change nothing); the net contributions per currency."""
    trades, ledger, store = _world(fee)
    contributed: dict[str, Decimal] = {}
    for step in steps:
        try:
            if step[0] in ("deposit", "withdrawal"):
                kind, currency, amount = step
                await ledger.move(USER, CashMove(kind=kind, amount=amount, currency=currency), actor=ACTOR)
                signed = amount if kind == "deposit" else -amount
                contributed[currency] = contributed.get(currency, Decimal(0)) + signed
            else:
                side, symbol, quantity, price = step
                await trades.place(USER, Order(symbol=symbol, side=side, quantity=quantity, price=price), actor=ACTOR)
        except (InsufficientCashError, InsufficientHoldingsError):
            continue
    _check(store, contributed)
    return contributed


def _check(store: InMemoryTradeStore, contributed: dict[str, Decimal]) -> None:
    entries = store.ledger.entries_booked
    cash_postings: dict[str, Decimal] = {}
    for entry in entries:
        per_currency: dict[str, Decimal] = {}
        for p in entry.postings:
            per_currency[p.currency] = per_currency.get(p.currency, Decimal(0)) + p.amount
            if p.account == "cash":
                cash_postings[p.currency] = cash_postings.get(p.currency, Decimal(0)) + p.amount
        assert not any(per_currency.values()), entry
    balances = store.ledger.cash.get(USER, {})
    assert {c: v for c, v in balances.items() if v} == {c: v for c, v in cash_postings.items() if v}
    assert all(v >= 0 for v in balances.values())
    for currency in {*contributed, *(c for _, c, _ in LISTED.values())}:
        _check_profit(store, currency, balances.get(currency, Decimal(0)), contributed.get(currency, Decimal(0)))


def _check_profit(store: InMemoryTradeStore, currency: str, cash: Decimal, contributed: Decimal) -> None:
    ids = {iid: price for iid, c, price in LISTED.values() if c == currency}
    mine = [t for t in store.trades if LISTED[t.symbol][1] == currency]
    realised = sum((t.realized_pnl for t in mine), Decimal(0))
    paid = sum((t.fee for t in mine), Decimal(0))
    held = [h for h in store.holdings_of(USER) if h.instrument_id in ids]
    unrealised = sum((h.quantity * (ids[h.instrument_id] - h.average_cost) for h in held), Decimal(0))
    value = cash + sum((h.quantity * ids[h.instrument_id] for h in held), Decimal(0))
    assert abs((realised + unrealised - paid) - (value - contributed)) <= ROUNDING, currency


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
