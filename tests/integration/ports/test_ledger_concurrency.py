"""200 trades and withdrawals at once on one user, on PostgreSQL: no lost update, no negative cash.

More is asked for than the cash covers, so some are refused; whatever the interleaving, the balance is
what the committed operations left, it equals the postings' sum, and the holding matches the trades.
"""

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from config.settings import Settings
from config.wiring.resources import pool_config
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.ledger import PostgresLedger
from domain.adapters.postgres.pool import Pool, open_pool
from domain.adapters.postgres.trades import PostgresTradeStore
from domain.errors import InsufficientCashError
from domain.models.audit import CASH_MOVE, TRADE_PLACE, AuditEntry
from domain.models.ledger import CashMove, FeePolicy, Settlement
from domain.models.trades import Order
from tests.conftest import with_settings
from tests.integration.ports.conftest import CONTRACT_ACTOR, PostgresWorld, quote_of

pytestmark = pytest.mark.integration
OPERATIONS = 200
FEES = Settlement(fees=FeePolicy(minimum=Decimal(1)))
OPENING, PRICE, WITHDRAWAL = Decimal(1500), Decimal(10), Decimal(7)  # a buy costs 11 with its fee


@pytest.fixture
async def patient_pool(contract_database: str, settings: Settings) -> AsyncIterator[Pool]:
    """Every operation waits its turn on the user's lock: deadlines far above the queue's length."""
    config = pool_config(with_settings(settings, database_url=contract_database), "folio-test-concurrency")
    config.min_size, config.max_size, config.timeout = 4, 16, 60.0
    config.deadline_s = config.write_deadline_s = 60.0
    pool = await open_pool(config, NullMetrics())
    yield pool
    await pool.close()


async def test_concurrent_trades_and_withdrawals_keep_every_invariant(patient_pool: Pool):
    world = PostgresWorld(patient_pool)
    instrument = await world.instrument(quote_of(0, price="10"))
    user = await world.user()
    ledger, trades = PostgresLedger(patient_pool), PostgresTradeStore(patient_pool)
    audit = AuditEntry.by(CONTRACT_ACTOR, CASH_MOVE, f"user:{user}")
    await ledger.book(user, [CashMove(kind="deposit", amount=OPENING, currency="USD").draft()], None, audit=audit)
    order = Order(symbol=instrument.symbol, side="buy", quantity=Decimal(1), price=PRICE)
    withdrawal = CashMove(kind="withdrawal", amount=WITHDRAWAL, currency="USD").draft()

    async def buy() -> str:
        await trades.place(user, order, None, audit=AuditEntry.by(CONTRACT_ACTOR, TRADE_PLACE, "u"), settlement=FEES)
        return "buy"

    async def withdraw() -> str:
        await ledger.book(user, [withdrawal], None, audit=audit)
        return "withdrawal"

    done = await asyncio.gather(*(buy() if i % 2 else withdraw() for i in range(OPERATIONS)), return_exceptions=True)
    refused = [r for r in done if isinstance(r, BaseException)]
    assert all(isinstance(r, InsufficientCashError) for r in refused), refused[:3]
    buys, withdrawals = done.count("buy"), done.count("withdrawal")
    assert refused, "the cash covered everything: the test asked for too little"
    expected = OPENING - buys * (PRICE + 1) - withdrawals * WITHDRAWAL
    assert 0 <= expected < PRICE + 1  # refused only when too little was left
    assert [(b.currency, b.amount) for b in await ledger.balances(user)] == [("USD", expected)]
    page = await ledger.entries(user, currency=None, since=None, limit=500, before=None)
    assert len(page.items) == 1 + 2 * buys + withdrawals
    assert sum(p.amount for e in page.items for p in e.postings if p.account == "cash") == expected
    assert all(sum(p.amount for p in e.postings) == 0 for e in page.items)
    held = await world.holdings.get(user)
    assert held is not None
    assert [h.quantity for h in held.items] == [buys]
    assert len((await trades.history(user, limit=500, before=None)).items) == buys
