"""One contract for the ledger, run against the in-memory twin and the real PostgreSQL adapter.

Cash moves by balanced entries; the balances the ledger keeps are what its cash postings add up to.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.errors import IdempotencyKeyReusedError, InsufficientCashError, UserNotFoundError
from domain.models.audit import CASH_MOVE, TRADE_PLACE, AuditEntry, AuditQuery
from domain.models.holdings import Cash, Holdings
from domain.models.ledger import Balance, CashMove, EntryDraft, FeePolicy, FxRates, Posting, Settlement
from domain.models.quotes import Instrument
from domain.models.trades import Order, Side
from tests.integration.ports.conftest import CONTRACT_ACTOR, World, new_id

pytestmark = pytest.mark.integration
AUDIT = AuditEntry.by(CONTRACT_ACTOR, CASH_MOVE, "user:0", {"note": "as the service sends it"})
TRADE = AuditEntry.by(CONTRACT_ACTOR, TRADE_PLACE, "user:0")


def buy(instrument: Instrument, quantity: str, price: str, side: Side = "buy") -> Order:
    return Order(symbol=instrument.symbol, side=side, quantity=Decimal(quantity), price=Decimal(price))


def move(kind: str, amount: str, currency: str = "USD") -> EntryDraft:
    return CashMove(kind=kind, amount=Decimal(amount), currency=currency).draft()  # type: ignore[arg-type]


def balances(**amounts: str) -> tuple[Balance, ...]:
    return tuple(Balance(currency=c, amount=Decimal(v)) for c, v in sorted(amounts.items()))


async def cash_from_postings(world: World, user: int) -> dict[str, Decimal]:
    page = await world.ledger.entries(user, currency=None, since=None, limit=500, before=None)
    totals: dict[str, Decimal] = {}
    for entry in page.items:
        for p in entry.postings:
            if p.account == "cash":
                totals[p.currency] = totals.get(p.currency, Decimal(0)) + p.amount
    return totals


async def test_deposits_and_withdrawals_move_the_balance_the_postings_add_up_to(world: World):
    user = await world.user()
    first = await world.ledger.book(user, [move("deposit", "1000.5")], None, audit=AUDIT)
    assert (first.balances, first.replayed) == (balances(USD="1000.5"), False)
    await world.ledger.book(user, [move("deposit", "200", "EUR")], None, audit=AUDIT)
    after = await world.ledger.book(user, [move("withdrawal", "0.5")], None, audit=AUDIT)
    assert after.balances == balances(EUR="200", USD="1000")
    assert await world.ledger.balances(user) == balances(EUR="200", USD="1000")
    assert await cash_from_postings(world, user) == {"USD": Decimal(1000), "EUR": Decimal(200)}
    entry = after.entries[0]
    assert (entry.user_id, entry.kind, entry.trade_id) == (user, "withdrawal", None)
    assert entry.postings == (
        Posting(account="cash", currency="USD", amount=Decimal("-0.5")),
        Posting(account="bank", currency="USD", amount=Decimal("0.5")),
    )
    assert entry.booked_at.utcoffset() == timedelta(0)


async def test_a_withdrawal_beyond_the_balance_is_refused_naming_amount_and_books_nothing(world: World):
    user = await world.user()
    await world.ledger.book(user, [move("deposit", "10")], None, audit=AUDIT)
    with pytest.raises(InsufficientCashError) as refused:
        await world.ledger.book(user, [move("withdrawal", "10.00000001")], "too-much", audit=AUDIT)
    assert refused.value.field == "amount"
    with pytest.raises(InsufficientCashError):
        await world.ledger.book(user, [move("withdrawal", "1", "EUR")], None, audit=AUDIT)  # never held
    assert await world.ledger.balances(user) == balances(USD="10")
    page = await world.ledger.entries(user, currency=None, since=None, limit=10, before=None)
    assert [e.kind for e in page.items] == ["deposit"]
    # the refused key was not spent: it books now that the cash is there
    await world.ledger.book(user, [move("deposit", "1")], None, audit=AUDIT)
    done = await world.ledger.book(user, [move("withdrawal", "10.00000001")], "too-much", audit=AUDIT)
    assert done.balances == balances(USD="0.99999999")


async def test_a_repeated_idempotency_key_returns_the_first_entry_and_books_nothing(world: World):
    user = await world.user()
    first = await world.ledger.book(user, [move("deposit", "50")], "k-1", audit=AUDIT)
    again = await world.ledger.book(user, [move("deposit", "50.000")], "k-1", audit=AUDIT)
    assert again.replayed
    assert again.entries[0].id == first.entries[0].id
    assert again.balances == balances(USD="50")
    with pytest.raises(IdempotencyKeyReusedError):
        await world.ledger.book(user, [move("deposit", "51")], "k-1", audit=AUDIT)
    other = await world.user()  # keys are per user
    assert not (await world.ledger.book(other, [move("deposit", "50")], "k-1", audit=AUDIT)).replayed


async def test_entries_come_newest_first_by_page_by_currency_and_since(world: World):
    user = await world.user()
    booked = []
    for amount, currency in (("1", "USD"), ("2", "EUR"), ("3", "USD"), ("4", "USD")):
        booked.append(
            (await world.ledger.book(user, [move("deposit", amount, currency)], None, audit=AUDIT)).entries[0]
        )
    first = await world.ledger.entries(user, currency=None, since=None, limit=3, before=None)
    assert [e.id for e in first.items] == [e.id for e in reversed(booked)][:3]
    assert first.next_before == booked[1].id
    rest = await world.ledger.entries(user, currency=None, since=None, limit=3, before=first.next_before)
    assert ([e.id for e in rest.items], rest.next_before) == ([booked[0].id], None)
    usd = await world.ledger.entries(user, currency="USD", since=None, limit=10, before=None)
    assert [e.postings[0].amount for e in usd.items] == [Decimal(4), Decimal(3), Decimal(1)]
    late = await world.ledger.entries(user, currency=None, since=booked[-1].booked_at + timedelta(days=1), limit=10,
                                      before=None)  # fmt: skip
    assert late.items == ()
    early = await world.ledger.entries(user, currency=None, since=booked[0].booked_at - timedelta(days=1), limit=10,
                                       before=None)  # fmt: skip
    assert len(early.items) == 4


async def test_bookings_are_audited_with_their_entry(world: World):
    user = await world.user()
    result = await world.ledger.book(user, [move("deposit", "5")], None, audit=AUDIT)
    page = await world.audit.page(AuditQuery(target=f"user:{user}"), limit=10, before=None)
    assert [(r.action, r.target) for r in page.items] == [(CASH_MOVE, f"user:{user}/entry:{result.entries[0].id}")]


async def test_an_unknown_user_has_no_ledger(world: World):
    ghost = new_id()
    with pytest.raises(UserNotFoundError):
        await world.ledger.book(ghost, [move("deposit", "5")], None, audit=AUDIT)
    with pytest.raises(UserNotFoundError):
        await world.ledger.entries(ghost, currency=None, since=None, limit=10, before=None)
    with pytest.raises(UserNotFoundError):
        await world.ledger.balances(ghost)


def test_an_entry_that_does_not_balance_cannot_be_made():
    with pytest.raises(ValueError, match="does not balance"):
        EntryDraft(kind="deposit", postings=(Posting(account="cash", currency="USD", amount=Decimal(1)),))
    with pytest.raises(ValueError, match="does not balance"):  # per currency, not in total
        EntryDraft(kind="fx", postings=(
            Posting(account="cash", currency="USD", amount=Decimal(1)),
            Posting(account="fx", currency="EUR", amount=Decimal(-1)),
        ))  # fmt: skip


# --- trades settle in cash, in the trade's transaction -------------------------------------------------
FEES = Settlement(fees=FeePolicy(bps=Decimal(10), minimum=Decimal(1)))  # 0.1 %, at least 1


async def test_a_buy_pays_gross_and_fee_and_a_sell_receives_proceeds_less_the_fee(world: World):
    a = await world.instrument(currency="EUR")
    user = await world.user()
    await world.ledger.book(user, [move("deposit", "10000", "EUR")], None, audit=AUDIT)
    bought = await world.trades.place(user, buy(a, "10", "500"), None, audit=TRADE, settlement=FEES)
    assert bought.trade.fee == Decimal(5)  # 0.1 % of 5000
    assert bought.cash == {"EUR": Decimal(10000 - 5000 - 5)}
    sold = await world.trades.place(user, buy(a, "1", "400", "sell"), None, audit=TRADE, settlement=FEES)
    assert sold.trade.fee == Decimal(1)  # 0.1 % of 400 is below the minimum
    assert sold.cash == {"EUR": Decimal(4995 + 400 - 1)}
    page = await world.ledger.entries(user, currency="EUR", since=None, limit=10, before=None)
    assert [(e.kind, e.trade_id) for e in page.items] == [
        ("fee", sold.trade.id), ("trade", sold.trade.id), ("fee", bought.trade.id), ("trade", bought.trade.id),
        ("deposit", None),
    ]  # fmt: skip
    assert page.items[3].postings == (
        Posting(account="cash", currency="EUR", amount=Decimal(-5000)),
        Posting(account="market", currency="EUR", amount=Decimal(5000)),
    )
    assert await cash_from_postings(world, user) == {"EUR": Decimal(5394)}
    assert await world.ledger.balances(user) == balances(EUR="5394")


async def test_a_buy_without_enough_cash_is_refused_naming_amount_and_changes_nothing(world: World):
    a = await world.instrument()
    user = await world.user()
    await world.ledger.book(user, [move("deposit", "100")], None, audit=AUDIT)
    with pytest.raises(InsufficientCashError) as refused:
        await world.trades.place(user, buy(a, "1", "99.5"), "short", audit=TRADE, settlement=FEES)  # + 1 fee
    assert refused.value.field == "amount"
    assert (await world.trades.history(user, limit=5, before=None)).items == ()
    assert await world.holdings.get(user) == Holdings(
        user_id=user, items=(), cash=(Cash(currency="USD", amount=Decimal(100)),)
    )
    assert await world.ledger.balances(user) == balances(USD="100")
    assert len((await world.ledger.entries(user, currency=None, since=None, limit=5, before=None)).items) == 1


async def test_with_auto_fx_a_shortfall_converts_from_the_base_currency(world: World):
    a = await world.instrument(currency="EUR")
    user = await world.user()
    await world.ledger.book(user, [move("deposit", "1000")], None, audit=AUDIT)
    await world.ledger.book(user, [move("deposit", "100", "EUR")], None, audit=AUDIT)
    auto = Settlement(fx=FxRates(base="USD", rates={"EUR": Decimal("1.1"), "USD": Decimal(1)}))
    result = await world.trades.place(user, buy(a, "3", "100"), None, audit=TRADE, settlement=auto)
    assert result.cash == {"EUR": Decimal(0), "USD": Decimal(780)}  # 200 EUR short, at 1.1
    fx = (await world.ledger.entries(user, currency="USD", since=None, limit=1, before=None)).items[0]
    assert (fx.kind, fx.trade_id) == ("fx", result.trade.id)
    assert await cash_from_postings(world, user) == {"EUR": Decimal(0), "USD": Decimal(780)}
    with pytest.raises(InsufficientCashError):  # the base currency runs short too
        await world.trades.place(user, buy(a, "8", "100"), None, audit=TRADE, settlement=auto)


async def test_the_holdings_record_carries_the_cash_above_zero(world: World):
    user = await world.user()
    await world.ledger.book(user, [move("deposit", "7", "EUR")], None, audit=AUDIT)
    await world.ledger.book(user, [move("deposit", "3")], None, audit=AUDIT)
    await world.ledger.book(user, [move("withdrawal", "3")], None, audit=AUDIT)
    assert await world.holdings.get(user) == Holdings(
        user_id=user, items=(), cash=(Cash(currency="EUR", amount=Decimal(7)),)
    )
