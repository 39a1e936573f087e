"""One contract for the trade store, run against the in-memory twin and the real PostgreSQL adapter.

Each test has users and instruments of its own (see conftest.py); the holdings record (`world.holdings`)
shows what a trade moved, as the portfolio read does.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.errors import (
    CurrencyNotTradableError,
    IdempotencyKeyReusedError,
    InsufficientHoldingsError,
    UnknownSymbolError,
    UserNotFoundError,
)
from domain.models.audit import CASH_MOVE, TRADE_PLACE, AuditEntry, AuditQuery, change_digest
from domain.models.holdings import Cash, Holding, Holdings
from domain.models.ledger import Balance, CashMove
from domain.models.quotes import Instrument
from domain.models.trade_imports import TRADE_IMPORT, ImportRow, fingerprint
from domain.models.trades import Order, Position, Side, TradeResult
from tests.integration.ports.conftest import CONTRACT_ACTOR, World, new_id

pytestmark = pytest.mark.integration
FUNDS = Decimal(1_000_000)
AUDIT = AuditEntry.by(CONTRACT_ACTOR, TRADE_PLACE, "user:0", {"note": "as the service sends it"})


def order(instrument: Instrument, side: Side, quantity: str, price: str) -> Order:
    return Order(symbol=instrument.symbol, side=side, quantity=Decimal(quantity), price=Decimal(price))


def position(quantity: str, average_cost: str, realized_pnl: str = "0") -> Position:
    return Position(quantity=Decimal(quantity), average_cost=Decimal(average_cost), realized_pnl=Decimal(realized_pnl))


async def funded(world: World) -> int:
    """A new user with cash enough for this suite's trades (settled in USD, the instruments' currency)."""
    user = await world.user()
    deposit = CashMove(kind="deposit", amount=FUNDS, currency="USD").draft()
    await world.ledger.book(user, [deposit], None, audit=AuditEntry.by(CONTRACT_ACTOR, CASH_MOVE, f"user:{user}"))
    return user


async def held(world: World, user: int) -> tuple[Holding, ...]:
    holdings = await world.holdings.get(user)
    assert holdings is not None
    return holdings.items


async def test_buys_average_the_cost_and_move_the_holding(world: World):
    a = await world.instrument()
    user = await funded(world)
    first = await world.trades.place(user, order(a, "buy", "10", "100"), None, audit=AUDIT)
    second = await world.trades.place(user, order(a, "buy", "5", "130"), None, audit=AUDIT)
    assert (first.position, first.replayed) == (position("10", "100"), False)
    assert second.position == position("15", "110")
    trade = second.trade
    assert (trade.user_id, trade.symbol, trade.side, trade.quantity, trade.price) == (
        user, a.symbol, "buy", Decimal(5), Decimal(130),
    )  # fmt: skip
    assert trade.realized_pnl == 0
    assert trade.id > first.trade.id
    assert trade.executed_at.utcoffset() == timedelta(0)
    assert await held(world, user) == (Holding(instrument_id=a.id, quantity=Decimal(15), average_cost=Decimal(110)),)


async def test_sells_realise_profit_keep_the_cost_and_a_sold_out_holding_disappears(world: World):
    a = await world.instrument()
    user = await funded(world)
    await world.trades.place(user, order(a, "buy", "4", "10.5"), None, audit=AUDIT)
    partial = await world.trades.place(user, order(a, "sell", "1", "12"), None, audit=AUDIT)
    assert partial.trade.realized_pnl == Decimal("1.5")
    assert partial.position == position("3", "10.5", "1.5")
    rest = await world.trades.place(user, order(a, "sell", "3", "10"), None, audit=AUDIT)
    assert rest.trade.realized_pnl == Decimal("-1.5")
    assert rest.position == position("0", "0", "0")
    assert await held(world, user) == ()
    again = await world.trades.place(user, order(a, "buy", "2", "20"), None, audit=AUDIT)
    assert again.position == position("2", "20", "0")  # realised profit stays with the holding


async def test_selling_more_than_held_is_refused_and_changes_nothing(world: World):
    a, b = await world.instrument(), await world.instrument()
    user = await funded(world)
    await world.trades.place(user, order(a, "buy", "2", "10"), None, audit=AUDIT)
    with pytest.raises(InsufficientHoldingsError) as refused:
        await world.trades.place(user, order(a, "sell", "2.00000001", "10"), "too-much", audit=AUDIT)
    assert refused.value.field == "quantity"
    with pytest.raises(InsufficientHoldingsError):
        await world.trades.place(user, order(b, "sell", "1", "10"), None, audit=AUDIT)  # nothing held at all
    assert await held(world, user) == (Holding(instrument_id=a.id, quantity=Decimal(2), average_cost=Decimal(10)),)
    page = await world.trades.history(user, limit=10, before=None)
    assert [t.side for t in page.items] == ["buy"]
    allowed = await world.trades.place(
        user, order(a, "sell", "1", "10"), "too-much", audit=AUDIT
    )  # the key was not spent
    assert allowed.replayed is False


async def test_an_unknown_user_or_symbol_is_refused(world: World):
    a = await world.instrument()
    user = await funded(world)
    with pytest.raises(UserNotFoundError):
        await world.trades.place(new_id(), order(a, "buy", "1", "1"), None, audit=AUDIT)
    with pytest.raises(UserNotFoundError):
        await world.trades.place(new_id(), order(a, "buy", "1", "1"), "some-key", audit=AUDIT)
    with pytest.raises(UnknownSymbolError):
        await world.trades.place(
            user, Order(symbol="NOPE-X", side="buy", quantity=Decimal(1), price=Decimal(1)), None, audit=AUDIT
        )
    assert (await world.trades.history(user, limit=5, before=None)).items == ()
    with pytest.raises(UserNotFoundError):
        await world.trades.history(new_id(), limit=5, before=None)


# --- Idempotency-Key ------------------------------------------------------------------------------
async def test_a_repeated_key_replays_the_first_result_as_it_was(world: World):
    a = await world.instrument()
    user = await funded(world)
    first = await world.trades.place(user, order(a, "buy", "3", "10"), "order-1", audit=AUDIT)
    await world.trades.place(user, order(a, "buy", "1", "30"), None, audit=AUDIT)  # the holding moves on
    replay = await world.trades.place(user, order(a, "buy", "3.000", "10.00"), "order-1", audit=AUDIT)  # the same order
    now = {"USD": Decimal(1_000_000 - 30 - 30)}  # the cash as it is now
    assert replay == TradeResult(trade=first.trade, position=first.position, replayed=True, cash=now)
    assert await held(world, user) == (Holding(instrument_id=a.id, quantity=Decimal(4), average_cost=Decimal(15)),)
    assert len((await world.trades.history(user, limit=10, before=None)).items) == 2


async def test_a_key_reused_for_another_order_is_refused(world: World):
    a, b = await world.instrument(), await world.instrument()
    user = await funded(world)
    await world.trades.place(user, order(a, "buy", "3", "10"), "order-1", audit=AUDIT)
    for other in (order(a, "buy", "4", "10"), order(a, "buy", "3", "11"), order(b, "buy", "3", "10")):
        with pytest.raises(IdempotencyKeyReusedError):
            await world.trades.place(user, other, "order-1", audit=AUDIT)
    assert len((await world.trades.history(user, limit=10, before=None)).items) == 1


async def test_keys_belong_to_one_user(world: World):
    a = await world.instrument()
    one, two = await funded(world), await funded(world)
    mine = await world.trades.place(one, order(a, "buy", "1", "10"), "shared-key", audit=AUDIT)
    theirs = await world.trades.place(two, order(a, "buy", "2", "10"), "shared-key", audit=AUDIT)
    assert (mine.replayed, theirs.replayed) == (False, False)
    assert theirs.trade.id != mine.trade.id


# --- history --------------------------------------------------------------------------------------
async def test_history_pages_newest_first_with_the_before_cursor(world: World):
    a = await world.instrument()
    user, other = await funded(world), await funded(world)
    ids = []
    for i in range(5):
        ids.append((await world.trades.place(user, order(a, "buy", "1", str(10 + i)), None, audit=AUDIT)).trade.id)
        await world.trades.place(
            other, order(a, "buy", "1", "1"), None, audit=AUDIT
        )  # interleaved: never in `user`'s pages
    first = await world.trades.history(user, limit=2, before=None)
    assert [t.id for t in first.items] == [ids[4], ids[3]]
    assert first.next_before == ids[3]
    second = await world.trades.history(user, limit=2, before=first.next_before)
    assert [t.id for t in second.items] == [ids[2], ids[1]]
    last = await world.trades.history(user, limit=2, before=second.next_before)
    assert [t.id for t in last.items] == [ids[0]]
    assert last.next_before is None
    exact = await world.trades.history(user, limit=5, before=None)
    assert (len(exact.items), exact.next_before) == (5, None)  # a full last page has no cursor
    assert [t.price for t in exact.items] == [Decimal(14), Decimal(13), Decimal(12), Decimal(11), Decimal(10)]


async def test_history_of_a_user_without_trades_is_empty(world: World):
    user = await funded(world)
    page = await world.trades.history(user, limit=10, before=None)
    assert (page.items, page.next_before) == ((), None)
    cash = (Cash(currency="USD", amount=FUNDS),)
    assert await world.holdings.get(user) == Holdings(user_id=user, items=(), cash=cash)


# --- audit ------------------------------------------------------------------------------------------
async def test_a_trade_is_audited_with_it_and_a_refused_or_replayed_one_is_not(world: World):
    a = await world.instrument()
    user = await funded(world)
    placed = await world.trades.place(user, order(a, "buy", "2", "10"), "audited", audit=AUDIT)
    with pytest.raises(InsufficientHoldingsError):
        await world.trades.place(user, order(a, "sell", "5", "10"), None, audit=AUDIT)
    await world.trades.place(user, order(a, "buy", "2", "10"), "audited", audit=AUDIT)  # a replay changes nothing
    page = await world.audit.page(AuditQuery(target=f"user:{user}", action=TRADE_PLACE), limit=10, before=None)
    trade_id = placed.trade.id
    assert [(r.actor, r.action, r.target, r.request_id) for r in page.items] == [
        ("operator:contract", "trade.place", f"user:{user}/trade:{trade_id}", "contract-request")
    ]
    assert page.items[0].digest == change_digest({"note": "as the service sends it", "trade_id": trade_id})


# --- imports ----------------------------------------------------------------------------------------
IMPORT_AUDIT = AuditEntry.by(CONTRACT_ACTOR, TRADE_IMPORT, "user:0", {"note": "as the service sends it"})
DAY = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


def rows(*orders: Order) -> list[ImportRow]:
    """One row per order, a day apart, numbered as a file's rows after its header."""
    return [
        ImportRow(row=n + 2, order=o, executed_at=DAY + timedelta(days=n), fingerprint=fingerprint(o, DAY, n + 1))
        for n, o in enumerate(orders)
    ]


async def test_an_import_books_every_row_at_its_time_and_again_nothing(world: World):
    a = await world.instrument()
    user = await funded(world)
    batch = rows(order(a, "buy", "10", "100"), order(a, "buy", "10", "110"), order(a, "sell", "5", "120"))
    outcome = await world.trades.import_rows(user, batch, dry_run=False, audit=IMPORT_AUDIT)
    assert ([b.row for b in outcome.booked], outcome.duplicates, outcome.errors) == ([2, 3, 4], (), ())
    assert [b.result.trade.executed_at for b in outcome.booked] == [r.executed_at for r in batch]
    assert outcome.booked[-1].result.position == position("15", "105", "75")
    again = await world.trades.import_rows(user, batch, dry_run=False, audit=IMPORT_AUDIT)
    assert (again.booked, again.duplicates) == ((), (2, 3, 4))
    assert await held(world, user) == (Holding(instrument_id=a.id, quantity=Decimal(15), average_cost=Decimal(105)),)
    page = await world.audit.page(AuditQuery(target=f"user:{user}", action="trade.import"), limit=10, before=None)
    assert [(r.action, r.request_id) for r in page.items] == [("trade.import", "contract-request")]
    assert page.items[0].digest == change_digest({"note": "as the service sends it", "booked": 3, "duplicates": 0})


async def test_an_import_with_a_row_that_cannot_be_booked_books_none_and_names_each(world: World):
    a, b = await world.instrument(), await world.instrument()
    user = await funded(world)
    unknown = Order(symbol="NOPE-X", side="buy", quantity=Decimal(1), price=Decimal(1))
    batch = rows(order(a, "buy", "1", "10"), order(b, "sell", "1", "10"), unknown, order(a, "buy", "2", "10"))
    outcome = await world.trades.import_rows(user, batch, dry_run=False, audit=IMPORT_AUDIT)
    assert [(e.row, e.field) for e in outcome.errors] == [(3, "quantity"), (4, "symbol")]
    assert [b.row for b in outcome.booked] == [2, 5]  # what would have been booked with them
    assert await held(world, user) == ()
    assert (await world.trades.history(user, limit=10, before=None)).items == ()
    assert (
        await world.audit.page(AuditQuery(target=f"user:{user}", action="trade.import"), limit=10, before=None)
    ).items == ()
    fixed = await world.trades.import_rows(user, [batch[0], batch[3]], dry_run=False, audit=IMPORT_AUDIT)
    assert [b.row for b in fixed.booked] == [2, 5]  # nothing of the refused import was remembered


async def test_a_dry_run_answers_as_the_import_would_and_keeps_nothing(world: World):
    a = await world.instrument()
    user = await funded(world)
    batch = rows(order(a, "buy", "4", "10"), order(a, "sell", "1", "12"))
    dry = await world.trades.import_rows(user, batch, dry_run=True, audit=IMPORT_AUDIT)
    assert [b.result.position for b in dry.booked] == [position("4", "10"), position("3", "10", "2")]
    assert await held(world, user) == ()
    real = await world.trades.import_rows(user, batch, dry_run=False, audit=IMPORT_AUDIT)
    assert [b.result.position for b in real.booked] == [b.result.position for b in dry.booked]
    with pytest.raises(UserNotFoundError):
        await world.trades.import_rows(new_id(), batch, dry_run=True, audit=IMPORT_AUDIT)


async def test_an_import_settles_in_cash_and_a_buy_the_cash_does_not_cover_books_nothing(world: World):
    a = await world.instrument()
    user = await funded(world)
    batch = rows(order(a, "buy", "10", "100"), order(a, "sell", "4", "150"))
    outcome = await world.trades.import_rows(user, batch, dry_run=False, audit=IMPORT_AUDIT)
    assert outcome.booked[-1].result.cash == {"USD": FUNDS - Decimal(1000) + Decimal(600)}
    broke = await world.user()
    refused = await world.trades.import_rows(broke, batch, dry_run=False, audit=IMPORT_AUDIT)
    assert [(e.row, e.field) for e in refused.errors] == [(2, "amount"), (3, "quantity")]
    assert await held(world, broke) == ()


async def test_a_currency_is_not_tradable_in_an_order_or_an_import(world: World):
    """A `cash` instrument is a currency's exchange rate: cash moves through the ledger, never as a lot."""
    a = await world.instrument()
    eur = await world.instrument(asset_class="cash")
    user = await funded(world)
    with pytest.raises(CurrencyNotTradableError) as refused:
        await world.trades.place(user, order(eur, "buy", "10", "1.1"), None, audit=AUDIT)
    assert refused.value.field == "symbol"
    outcome = await world.trades.import_rows(
        user, rows(order(a, "buy", "1", "10"), order(eur, "buy", "10", "1.1")), dry_run=False, audit=IMPORT_AUDIT
    )
    assert [(e.row, e.field) for e in outcome.errors] == [(3, "symbol")]
    assert await held(world, user) == ()
    assert (await world.trades.history(user, limit=5, before=None)).items == ()
    assert await world.ledger.balances(user) == (Balance(currency="USD", amount=FUNDS),)
