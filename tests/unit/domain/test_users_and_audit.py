"""Users, the audit trail, operators' reads and the export, through the in-memory twins."""

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

import msgspec
import pytest

from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.credentials import InMemoryApiKeyStore, InMemoryCredentials
from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.adapters.memory.reports import InMemoryReportRepository
from domain.adapters.memory.trades import InMemoryTradeStore
from domain.adapters.memory.users import InMemoryUserStore
from domain.errors import (
    DuplicateUserError,
    InvalidRequestError,
    OperatorOnlyFieldError,
    UnavailableError,
    UserErasedError,
)
from domain.models.api_keys import NewApiKey, generate_key
from domain.models.audit import GENESIS, Actor, AuditEntry, first_break
from domain.models.ledger import CashMove
from domain.models.quotes import Instrument
from domain.models.trades import Order
from domain.models.users import NewUser, UserChanges
from domain.services.audit import AuditTrail, ReadRecorder
from domain.services.export import ExportService
from domain.services.users import UserService

OPERATOR = Actor(name="operator:ada", request_id="req-1")


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.audit = InMemoryAuditLog(self.clock)
        self.holdings = InMemoryHoldingsRepository()
        self.reports = InMemoryReportRepository(clock=self.clock)
        self.credentials = InMemoryCredentials(self.clock, self.audit)
        self.store = InMemoryUserStore(
            self.audit, self.clock, holdings=self.holdings, reports=self.reports, credentials=self.credentials
        )
        self.forgotten: list[tuple[str, int]] = []
        self.users = UserService(self.store, after_erase=[self._forget("caches"), self._forget("credentials")])

    def _forget(self, what: str) -> Callable[[int], Awaitable[None]]:
        async def forget(user_id: int) -> None:
            assert (await self.store.get(user_id)).erased_at is not None  # only once the erasure is recorded
            self.forgotten.append((what, user_id))

        return forget


@pytest.fixture
def world() -> World:
    return World()


async def test_create_keeps_emails_in_lower_case_and_records_who_asked(world: World):
    user = await world.users.create(NewUser(email="Ada@Example.COM", name="Ada"), actor=OPERATOR)
    assert (user.email, user.base_currency) == ("ada@example.com", "USD")
    [record] = world.audit.records
    assert (record.actor, record.action, record.target, record.request_id) == (
        "operator:ada", "user.create", f"user:{user.id}", "req-1",
    )  # fmt: skip
    with pytest.raises(DuplicateUserError) as clash:
        await world.users.create(NewUser(email="ADA@example.com", name="Other"), actor=OPERATOR)
    assert clash.value.field == "email"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "no-at-sign"}, "email"),
        ({"name": " leading space"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"external_id": "with space"}, "external_id"),
        ({"base_currency": "usd"}, "base_currency"),
    ],
)
async def test_a_field_out_of_its_rule_is_refused_naming_it(world: World, fields: dict[str, str], field: str):
    with pytest.raises(InvalidRequestError) as refused:
        await world.users.create(NewUser(**{"email": "a@b.example", "name": "A", **fields}), actor=OPERATOR)
    assert refused.value.field == field
    assert world.audit.records == []


async def test_only_an_operator_may_change_the_identity_providers_subject(world: World):
    user = await world.users.create(NewUser(email="a@b.example", name="A"), actor=OPERATOR)
    me = Actor(name=f"user:{user.id}")
    with pytest.raises(OperatorOnlyFieldError):
        await world.users.update(user.id, UserChanges(external_id="idp|1"), actor=me, may_relink=False)
    renamed = await world.users.update(user.id, UserChanges(name="B"), actor=me, may_relink=False)
    linked = await world.users.update(user.id, UserChanges(external_id="idp|1"), actor=OPERATOR, may_relink=True)
    assert (renamed.name, linked.external_id) == ("B", "idp|1")
    assert [r.actor for r in world.audit.records] == ["operator:ada", f"user:{user.id}", "operator:ada"]


async def test_erasure_is_recorded_before_every_process_is_told_to_forget_the_user(world: World):
    user = await world.users.create(NewUser(email="a@b.example", name="A"), actor=OPERATOR)
    await world.users.erase(user.id, actor=OPERATOR)
    assert world.forgotten == [("caches", user.id), ("credentials", user.id)]
    with pytest.raises(UserErasedError):
        await world.users.get(user.id)
    assert world.audit.records[-1].action == "user.erase"
    assert (await world.users.page(email="a@b.example")).items == ()


# --- the trail ------------------------------------------------------------------------------------------
async def test_verify_walks_the_chain_in_batches_and_names_the_first_changed_entry(world: World):
    await world.audit.append([AuditEntry.by(OPERATOR, "test.thing", f"user:{n}") for n in range(10)])
    trail = AuditTrail(world.audit)
    assert (await trail.verify(batch=3)).checked == 10
    records = world.audit.records
    records[6] = msgspec.structs.replace(records[6], actor="operator:mallory")
    check = await trail.verify(batch=3)
    assert (check.broken_at, check.checked, check.intact) == (7, 6, False)
    assert "does not match its fields" in check.reason


class FlakyLog(InMemoryAuditLog):
    """A log whose database is down until told otherwise."""

    down = True

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        if self.down:
            raise UnavailableError("the database is not answering")
        await super().append(entries)


async def test_reads_are_queued_with_their_own_time_and_appended_in_chained_batches_once_the_log_answers():
    clock = FixedClock()
    log = FlakyLog(clock)
    reads = ReadRecorder(log, clock, max_batch=2, max_pending=4)
    for n in range(5):
        reads.record(OPERATOR, f"user:{n}", f"GET /api/users/{n}")
        clock.advance(1)
    assert (reads.pending, reads.dropped) == (4, 1)  # the queue is bounded: the newest read is not kept
    assert await reads.flush() == 0
    log.down = False
    assert await reads.flush() == 4
    assert [(r.action, r.target) for r in log.records] == [("user.read", f"user:{n}") for n in range(4)]
    assert [r.at.second for r in log.records] == [0, 1, 2, 3]  # when each read happened, not when appended
    assert first_break(tuple(log.records), GENESIS) is None


# --- the export -----------------------------------------------------------------------------------------
async def test_the_export_pages_through_every_trade_newest_first(world: World):
    quotes = InMemoryQuoteRepository(world.clock)
    quotes.instruments[1] = Instrument(
        id=1, symbol="ABC", name="Abc", asset_class="equity", currency="USD", exchange="X"
    )
    trades = InMemoryTradeStore(world.holdings, quotes, world.clock, world.audit)
    user = await world.users.create(NewUser(email="a@b.example", name="A"), actor=OPERATOR)
    move = CashMove(kind="deposit", amount=Decimal(28), currency="USD")  # 1 + 2 + ... + 7
    await trades.ledger.book(user.id, [move.draft()], None, audit=AuditEntry.by(OPERATOR, "cash.move", "user"))
    for n in range(7):
        order = Order(symbol="ABC", side="buy", quantity=Decimal(1), price=Decimal(n + 1))
        await trades.place(user.id, order, None, audit=AuditEntry.by(OPERATOR, "trade.place", f"user:{user.id}"))
    keys = InMemoryApiKeyStore(world.credentials)
    prefix, token = generate_key()
    new_key = NewApiKey(user_id=user.id, prefix=prefix, digest=b"d" * 32, name="ci", scopes=("read",), expires_at=None)
    key = await keys.create(new_key, limit=5, audit=AuditEntry.by(OPERATOR, "apikey.create", f"user:{user.id}"))
    exports = ExportService(
        world.users, world.holdings, trades, world.reports, world.audit, keys, trades.ledger, page=3
    )
    profile = await exports.profile(user.id)
    assert (profile.user, [h.quantity for h in profile.holdings.items]) == (user, [Decimal(7)])
    assert profile.api_keys == (key,)
    assert token not in repr(profile)
    assert [t.price async for t in exports.trades(user.id)] == [Decimal(n) for n in range(7, 0, -1)]
    ledger = [e async for e in exports.ledger(user.id)]  # newest first, across pages of 3
    assert [e.kind for e in ledger] == ["trade"] * 7 + ["deposit"]
    assert len([r async for r in exports.audit(user.id)]) == 10  # its creation, its deposit, seven trades, its key
