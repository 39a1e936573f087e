"""One contract for the audit log, run against the in-memory twin and the real PostgreSQL adapter.

The suites share one log: each test filters by an actor or a target of its own, and checks the chain whole.
"""

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from domain.models.audit import (
    GENESIS,
    USER_READ,
    Actor,
    AuditEntry,
    AuditQuery,
    AuditRecord,
    change_digest,
    first_break,
    record_hash,
)
from domain.services.audit import AuditTrail
from tests.integration.ports.conftest import World, new_id

pytestmark = pytest.mark.integration


def read_by(who: Actor, target: str, at: datetime | None = None) -> AuditEntry:
    entry = AuditEntry.by(who, USER_READ, target, {"read": f"GET /api/{target}"})
    return msgspec.structs.replace(entry, at=at)


def operator() -> Actor:
    return Actor(name=f"operator:audit-{new_id()}", request_id=f"req-{new_id()}")


async def everything(world: World) -> tuple[AuditRecord, ...]:
    return await world.audit.walk(after=0, limit=1_000_000)


async def test_a_batch_is_appended_in_order_each_entry_chained_to_the_one_before(world: World):
    who = operator()
    at = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    await world.audit.append([read_by(who, "user:1", at), read_by(who, "user:2"), read_by(who, "user:3", at)])
    page = await world.audit.page(AuditQuery(actor=who.name), limit=10, before=None)
    newest_first = page.items
    assert [r.target for r in newest_first] == ["user:3", "user:2", "user:1"]
    assert newest_first[0].at == newest_first[2].at == at  # an entry's own time is kept, to the microsecond
    assert all(r.request_id == who.request_id for r in newest_first)
    assert newest_first[1].digest == change_digest({"read": "GET /api/user:2"})
    assert [r.prev_hash for r in newest_first[:2]] == [newest_first[1].hash, newest_first[2].hash]
    assert all(record_hash(r) == r.hash for r in newest_first)
    assert first_break(await everything(world), GENESIS) is None


async def test_concurrent_appends_form_one_chain_in_commit_order(world: World):
    who = operator()
    await asyncio.gather(*(world.audit.append([read_by(who, f"user:{n}")]) for n in range(12)))
    records = await everything(world)
    assert first_break(records, GENESIS) is None
    assert len({r.prev_hash for r in records}) == len(records)  # no two entries follow the same one
    assert (await AuditTrail(world.audit).verify(batch=7)).checked == len(records)


async def test_the_target_filter_finds_what_is_under_it_and_nothing_beside_it(world: World):
    who, n = operator(), new_id()
    targets = [f"user:{n}", f"user:{n}/trade:7", f"user:{n}0", f"user:{n}0/trade:1", "quotes"]
    await world.audit.append([read_by(who, t) for t in targets])
    found = await world.audit.page(AuditQuery(target=f"user:{n}"), limit=10, before=None)
    assert [r.target for r in found.items] == [f"user:{n}/trade:7", f"user:{n}"]
    both = await world.audit.page(AuditQuery(actor=who.name, action=USER_READ, target="quotes"), limit=10, before=None)
    assert [r.target for r in both.items] == ["quotes"]
    none = await world.audit.page(AuditQuery(actor=who.name, action="user.erase"), limit=10, before=None)
    assert none.items == ()


async def test_pages_are_newest_first_and_since_keeps_the_later_entries(world: World):
    who = operator()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    await world.audit.append([read_by(who, f"user:{i}", start + timedelta(days=i)) for i in range(5)])
    first = await world.audit.page(AuditQuery(actor=who.name), limit=2, before=None)
    second = await world.audit.page(AuditQuery(actor=who.name), limit=2, before=first.next_before)
    last = await world.audit.page(AuditQuery(actor=who.name), limit=2, before=second.next_before)
    assert [r.target for r in first.items + second.items + last.items] == [f"user:{i}" for i in (4, 3, 2, 1, 0)]
    assert last.next_before is None
    since = await world.audit.page(AuditQuery(actor=who.name, since=start + timedelta(days=3)), limit=9, before=None)
    assert [r.target for r in since.items] == ["user:4", "user:3"]


async def test_walk_goes_oldest_first_from_an_id(world: World):
    who = operator()
    await world.audit.append([read_by(who, f"user:{i}") for i in range(3)])
    mine = (await world.audit.page(AuditQuery(actor=who.name), limit=3, before=None)).items
    oldest = mine[-1].id
    walked = await world.audit.walk(after=oldest - 1, limit=3)
    assert [r.id for r in walked] == sorted(r.id for r in mine)
    assert await world.audit.walk(after=walked[-1].id + 10**9, limit=3) == ()
