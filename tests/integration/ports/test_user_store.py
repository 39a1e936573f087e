"""One contract for the user store, run against the in-memory twin and the real PostgreSQL adapter.

Each change is recorded in the audit log with it (`world.audit` reads it back); a refused change records nothing.
Each test has an actor of its own, so it counts only its own entries in the log the suites share.
"""

import pytest
from msgspec import UNSET

from domain.errors import DuplicateUserError, UserErasedError, UserNotFoundError
from domain.models.audit import (
    USER_CREATE,
    USER_ERASE,
    USER_UPDATE,
    Actor,
    AuditEntry,
    AuditQuery,
    AuditRecord,
    change_digest,
)
from domain.models.holdings import Holding
from domain.models.users import ERASED_NAME, NewUser, UserChanges, erased_email
from tests.integration.ports.conftest import World, new_id, quote_of

pytestmark = pytest.mark.integration


def actor() -> Actor:
    return Actor(name=f"operator:contract-{new_id()}", request_id=f"req-{new_id()}")


def newcomer(**fields: str) -> NewUser:
    n = new_id()
    return NewUser(**{"email": f"new{n}@example.com", "name": f"New {n}", **fields})


async def entries(world: World, who: Actor) -> list[AuditRecord]:
    return list((await world.audit.page(AuditQuery(actor=who.name), limit=50, before=None)).items)


async def test_a_created_user_gets_the_next_id_and_is_audited_with_its_target(world: World):
    who = actor()
    first = await world.users.create(
        newcomer(external_id=f"idp|{new_id()}"), audit=AuditEntry.by(who, USER_CREATE, "user", {"k": 1})
    )
    second = await world.users.create(newcomer(base_currency="EUR"), audit=AuditEntry.by(who, USER_CREATE, "user"))
    assert second.id > first.id
    assert (second.base_currency, second.external_id, second.updated_at, second.erased_at) == ("EUR", None, None, None)
    assert await world.users.get(first.id) == first
    records = await entries(world, who)
    assert [(r.action, r.target, r.request_id) for r in records] == [
        ("user.create", f"user:{second.id}", who.request_id),
        ("user.create", f"user:{first.id}", who.request_id),
    ]
    assert records[1].digest == change_digest({"k": 1})


@pytest.mark.parametrize("field", ["email", "external_id"])
async def test_a_duplicate_email_or_external_id_is_refused_naming_the_field_and_records_nothing(
    world: World, field: str
):
    taken = await world.users.create(
        newcomer(external_id=f"idp|{new_id()}"), audit=AuditEntry.by(actor(), USER_CREATE, "user")
    )
    who = actor()
    clash = newcomer(**{field: getattr(taken, field)})
    with pytest.raises(DuplicateUserError) as refused:
        await world.users.create(clash, audit=AuditEntry.by(who, USER_CREATE, "user"))
    assert refused.value.field == field
    other = await world.users.create(newcomer(), audit=AuditEntry.by(who, USER_CREATE, "user"))
    with pytest.raises(DuplicateUserError) as refused:
        await world.users.update(
            other.id, UserChanges(**{field: getattr(taken, field)}), audit=AuditEntry.by(who, USER_UPDATE, "x")
        )
    assert refused.value.field == field
    assert await world.users.get(other.id) == other
    assert [r.action for r in await entries(world, who)] == ["user.create"]  # the one that succeeded


async def test_an_unknown_user_is_none_and_cannot_be_changed_or_erased(world: World):
    missing = new_id()
    assert await world.users.get(missing) is None
    with pytest.raises(UserNotFoundError):
        await world.users.update(missing, UserChanges(name="X"), audit=AuditEntry.by(actor(), USER_UPDATE, "x"))
    with pytest.raises(UserNotFoundError):
        await world.users.erase(missing, audit=AuditEntry.by(actor(), USER_ERASE, "x"))


async def test_an_update_changes_only_the_fields_given_and_nothing_given_records_nothing(world: World):
    user = await world.users.create(
        newcomer(external_id=f"idp|{new_id()}"), audit=AuditEntry.by(actor(), USER_CREATE, "user")
    )
    who = actor()
    same = await world.users.update(user.id, UserChanges(), audit=AuditEntry.by(who, USER_UPDATE, f"user:{user.id}"))
    assert same == user
    changed = await world.users.update(
        user.id,
        UserChanges(name="Renamed", base_currency="GBP", external_id=None),
        audit=AuditEntry.by(who, USER_UPDATE, f"user:{user.id}", {"name": "Renamed"}),
    )
    assert (changed.name, changed.base_currency, changed.external_id, changed.email) == (
        "Renamed", "GBP", None, user.email,
    )  # fmt: skip
    assert changed.updated_at is not None
    assert await world.users.get(user.id) == changed
    assert [(r.action, r.target) for r in await entries(world, who)] == [("user.update", f"user:{user.id}")]
    assert UserChanges(email=UNSET).fields() == {}


async def test_pages_are_newest_first_without_erased_users_and_email_finds_one(world: World):
    made = [await world.users.create(newcomer(), audit=AuditEntry.by(actor(), USER_CREATE, "user")) for _ in range(4)]
    await world.users.erase(made[2].id, audit=AuditEntry.by(actor(), USER_ERASE, f"user:{made[2].id}"))
    first = await world.users.page(limit=2, before=made[-1].id + 1, email=None)
    assert [u.id for u in first.items] == [made[3].id, made[1].id]
    rest = await world.users.page(limit=2, before=first.next_before, email=None)
    assert rest.items[0].id == made[0].id
    found = await world.users.page(limit=5, before=None, email=made[1].email.upper())
    assert found.items == (made[1],)
    assert found.next_before is None
    erased = await world.users.page(limit=5, before=None, email=made[2].email)
    assert erased.items == ()


async def test_erasure_replaces_the_personal_data_and_keeps_the_financial_records(world: World):
    instrument = await world.instrument(quote_of(0, price="10"))
    user_id = await world.user(Holding(instrument_id=instrument.id, quantity=5, average_cost=9))
    requested = await world.reports.create(user_id, None, 60)
    claim = await world.reports.claim(requested.report.id, 60)
    assert claim is not None
    assert await world.reports.store_document(claim, b"%PDF-contract")
    await world.reports.finish(claim, "succeeded", None)
    pending = await world.reports.create(user_id, "later", 60)
    who = actor()
    erased = await world.users.erase(user_id, audit=AuditEntry.by(who, USER_ERASE, f"user:{user_id}"))

    assert (erased.email, erased.name, erased.external_id) == (erased_email(user_id), ERASED_NAME, None)
    assert erased.erased_at is not None
    assert await world.users.get(user_id) == erased
    assert await world.holdings.get(user_id) is None  # no one's portfolio any more
    with pytest.raises(UserNotFoundError):  # its trades stay, but not as anyone's
        await world.trades.history(user_id, limit=5, before=None)
    assert await world.reports.document(requested.report.id) is None
    done, unfinished = await world.reports.get(requested.report.id), await world.reports.get(pending.report.id)
    assert done is not None
    assert unfinished is not None
    assert (done.status, done.has_document) == ("succeeded", False)
    assert (unfinished.status, unfinished.error) == ("failed", "the user was erased")
    assert [(r.action, r.target) for r in await entries(world, who)] == [("user.erase", f"user:{user_id}")]


async def test_an_erased_user_cannot_be_changed_or_erased_again(world: World):
    user_id = await world.user()
    await world.users.erase(user_id, audit=AuditEntry.by(actor(), USER_ERASE, f"user:{user_id}"))
    who = actor()
    with pytest.raises(UserErasedError):
        await world.users.update(user_id, UserChanges(name="Back"), audit=AuditEntry.by(who, USER_UPDATE, "x"))
    with pytest.raises(UserErasedError):
        await world.users.erase(user_id, audit=AuditEntry.by(who, USER_ERASE, "x"))
    assert await entries(world, who) == []


async def test_a_user_is_found_by_its_external_id_until_erasure_unlinks_it(world: World):
    subject = f"idp|{new_id()}"
    user = await world.users.create(newcomer(external_id=subject), audit=AuditEntry.by(actor(), USER_CREATE, "user"))
    assert await world.users.by_external_id(subject) == user
    assert await world.users.by_external_id(f"idp|{new_id()}") is None
    await world.users.erase(user.id, audit=AuditEntry.by(actor(), USER_ERASE, f"user:{user.id}"))
    assert await world.users.by_external_id(subject) is None
