"""One contract for the credential stores (API keys, revocations), run against the twins and PostgreSQL.

Users are created for each test (ids unique in the session, see conftest.py). The audit entries are read back
from the twin here; the PostgreSQL log's entries are the audit log's own contract (test_audit_log.py).
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from domain.adapters.clock import SystemClock
from domain.adapters.memory.credentials import InMemoryApiKeyStore, InMemoryCredentials, InMemoryRevocationStore
from domain.adapters.memory.users import InMemoryUserStore
from domain.adapters.postgres.credentials import PostgresApiKeyStore, PostgresRevocationStore
from domain.adapters.postgres.pool import Pool
from domain.adapters.postgres.users import PostgresUserStore
from domain.errors import ApiKeyLimitError, ApiKeyNotFoundError, ConflictError, UserNotFoundError
from domain.models.api_keys import NewApiKey, generate_key, key_digest
from domain.models.audit import USER_ERASE, Actor, AuditEntry, key_target
from domain.models.invalidations import ApiKeyRevoked, SessionsRevoked
from domain.ports.credentials import ApiKeyStore, RevocationStore
from domain.ports.users import UserStore
from tests.integration.ports.conftest import new_id, seeded_user

pytestmark = pytest.mark.integration
PEPPER = b"contract-suite-pepper-" + b"x" * 16


def audit(action: str) -> AuditEntry:
    return AuditEntry(actor="user:1", action=action, target="apikey", request_id="req-1", change={})


@dataclass
class Side:
    keys: ApiKeyStore
    revocations: RevocationStore
    users: UserStore
    memory: InMemoryCredentials | None
    pool: Pool | None

    async def user(self) -> int:
        user_id = new_id()
        if isinstance(self.users, InMemoryUserStore):
            self.users.add(seeded_user(user_id))
        else:
            assert self.pool is not None
            async with self.pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO users (id, email, name) VALUES (%s, %s, %s)",
                    (user_id, f"user{user_id}@example.com", f"User {user_id}"),
                )
        return user_id


@pytest.fixture(params=["memory", "postgres"])
async def side(request: pytest.FixtureRequest, contract_pool: Pool) -> AsyncIterator[Side]:
    if request.param == "memory":
        state = InMemoryCredentials(SystemClock())  # the twin's "now()" moves, as the server's does
        users = InMemoryUserStore(clock=state.clock, credentials=state)
        yield Side(InMemoryApiKeyStore(state), InMemoryRevocationStore(state), users, state, None)
    else:
        keys, revocations = PostgresApiKeyStore(contract_pool), PostgresRevocationStore(contract_pool)
        yield Side(keys, revocations, PostgresUserStore(contract_pool), None, contract_pool)


def new_key(user_id: int, name: str = "ci", *, expires_at: datetime | None = None) -> tuple[NewApiKey, str]:
    prefix, token = generate_key()
    record = NewApiKey(
        user_id=user_id,
        prefix=prefix,
        digest=key_digest(PEPPER, token),
        name=name,
        scopes=("read", "trade"),
        expires_at=expires_at,
    )
    return record, token


async def test_a_created_key_is_listed_and_found_by_its_prefix_with_its_digest(side: Side):
    user = await side.user()
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    record, token = new_key(user, "nightly export", expires_at=expires)
    created = await side.keys.create(record, limit=10, audit=audit("apikey.create"))
    assert (created.user_id, created.prefix, created.name, created.scopes) == (
        user, record.prefix, "nightly export", ("read", "trade"),
    )  # fmt: skip
    assert (created.expires_at, created.last_used_at, created.revoked_at) == (expires, None, None)
    assert created.created_at.utcoffset() == timedelta(0)
    assert await side.keys.list(user) == (created,)
    found = await side.keys.find(record.prefix)
    assert found is not None
    assert (found.key, found.digest) == (created, key_digest(PEPPER, token))
    assert await side.keys.find(generate_key()[0]) is None
    if side.memory is not None:
        assert [(a.action, a.target) for a in side.memory.audit] == [("apikey.create", key_target(user, created.id))]


async def test_listing_is_newest_first_and_per_user_and_unknown_users_are_named(side: Side):
    user, other = await side.user(), await side.user()
    first = await side.keys.create(new_key(user, "first")[0], limit=10, audit=audit("apikey.create"))
    await asyncio.sleep(0.002)
    second = await side.keys.create(new_key(user, "second")[0], limit=10, audit=audit("apikey.create"))
    await side.keys.create(new_key(other)[0], limit=10, audit=audit("apikey.create"))
    assert [k.id for k in await side.keys.list(user)] == [second.id, first.id]
    missing = new_id()
    with pytest.raises(UserNotFoundError):
        await side.keys.list(missing)
    with pytest.raises(UserNotFoundError):
        await side.keys.create(new_key(missing)[0], limit=10, audit=audit("apikey.create"))


async def test_a_user_holds_at_most_the_limit_of_keys_not_revoked(side: Side):
    user = await side.user()
    keys = [await side.keys.create(new_key(user)[0], limit=2, audit=audit("apikey.create")) for _ in range(2)]
    with pytest.raises(ApiKeyLimitError):
        await side.keys.create(new_key(user)[0], limit=2, audit=audit("apikey.create"))
    await side.keys.revoke(user, keys[0].id, audit=audit("apikey.revoke"))
    await side.keys.create(new_key(user)[0], limit=2, audit=audit("apikey.create"))  # a revoked one frees a place


async def test_the_limit_holds_under_concurrent_creation(side: Side):
    user = await side.user()
    results = await asyncio.gather(
        *(side.keys.create(new_key(user)[0], limit=3, audit=audit("apikey.create")) for _ in range(8)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert all(isinstance(r, ApiKeyLimitError) for r in results if isinstance(r, BaseException))


async def test_a_prefix_taken_already_is_a_conflict(side: Side):
    user = await side.user()
    record = new_key(user)[0]
    await side.keys.create(record, limit=10, audit=audit("apikey.create"))
    with pytest.raises(ConflictError) as refused:
        await side.keys.create(record, limit=10, audit=audit("apikey.create"))
    assert not isinstance(refused.value, ApiKeyLimitError)


async def test_revoking_stamps_the_key_hides_it_and_is_done_once(side: Side):
    user, other = await side.user(), await side.user()
    record = new_key(user)[0]
    key = await side.keys.create(record, limit=10, audit=audit("apikey.create"))
    with pytest.raises(ApiKeyNotFoundError):
        await side.keys.revoke(other, key.id, audit=audit("apikey.revoke"))  # another user's key
    revoked = await side.keys.revoke(user, key.id.upper(), audit=audit("apikey.revoke"))
    assert revoked.id == key.id
    assert revoked.revoked_at is not None
    assert revoked.revoked_at >= key.created_at
    assert await side.keys.list(user) == ()
    found = await side.keys.find(record.prefix)
    assert found is not None
    assert found.key.revoked_at == revoked.revoked_at  # verification still finds it, and sees it revoked
    with pytest.raises(ApiKeyNotFoundError) as again:
        await side.keys.revoke(user, key.id, audit=audit("apikey.revoke"))
    assert again.value.field == "key_id"


async def test_uses_move_last_used_at_forward_only_in_one_batch(side: Side):
    user = await side.user()
    a = await side.keys.create(new_key(user)[0], limit=10, audit=audit("apikey.create"))
    b = await side.keys.create(new_key(user)[0], limit=10, audit=audit("apikey.create"))
    now = datetime.now(UTC).replace(microsecond=0)
    await side.keys.record_use({a.id: now, b.id: now - timedelta(minutes=5)})
    await side.keys.record_use({b.id: now - timedelta(minutes=10)})  # an older batch, written late
    await side.keys.record_use({})
    used = {k.id: k.last_used_at for k in await side.keys.list(user)}
    assert used == {a.id: now, b.id: now - timedelta(minutes=5)}


async def test_revoking_sessions_sets_a_watermark_that_only_moves_forward(side: Side):
    user = await side.user()
    assert await side.revocations.tokens_not_before(user) is None
    first = await side.revocations.revoke_sessions(user, audit=audit("sessions.revoke"))
    assert abs(first - datetime.now(UTC)) < timedelta(seconds=5)
    assert await side.revocations.tokens_not_before(user) == first
    await asyncio.sleep(0.002)
    second = await side.revocations.revoke_sessions(user, audit=audit("sessions.revoke"))
    assert second > first
    assert await side.revocations.tokens_not_before(user) == second
    with pytest.raises(UserNotFoundError):
        await side.revocations.revoke_sessions(new_id(), audit=audit("sessions.revoke"))
    assert await side.revocations.tokens_not_before(new_id()) is None


async def test_watermarks_asked_for_together_are_each_users_own(side: Side):
    # A process that just started sees many users' tokens at once: the reads that wait go as one group.
    revoked, fresh, again = await side.user(), await side.user(), await side.user()
    first = await side.revocations.revoke_sessions(revoked, audit=audit("sessions.revoke"))
    second = await side.revocations.revoke_sessions(again, audit=audit("sessions.revoke"))
    users = [revoked, fresh, new_id(), again, revoked] * 8
    found = await asyncio.gather(*(side.revocations.tokens_not_before(user) for user in users))
    assert found == [first, None, None, second, first] * 8


async def test_recent_revocations_are_listed_with_their_watermarks(side: Side):
    user = await side.user()
    key = await side.keys.create(new_key(user)[0], limit=10, audit=audit("apikey.create"))
    kept = await side.keys.create(new_key(user)[0], limit=10, audit=audit("apikey.create"))
    await side.keys.revoke(user, key.id, audit=audit("apikey.revoke"))
    watermark = await side.revocations.revoke_sessions(user, audit=audit("sessions.revoke"))
    recent = await side.revocations.revoked_within(60)
    assert ApiKeyRevoked(key_id=key.id) in recent
    assert ApiKeyRevoked(key_id=kept.id) not in recent
    mine = [r for r in recent if isinstance(r, SessionsRevoked) and r.user_id == user]
    assert len(mine) == 1
    assert abs(mine[0].not_before - watermark.timestamp()) < 1e-5
    await asyncio.sleep(0.3)
    later = await side.revocations.revoked_within(0.2)
    assert ApiKeyRevoked(key_id=key.id) not in later
    assert not [r for r in later if isinstance(r, SessionsRevoked) and r.user_id == user]


async def test_erasing_a_user_revokes_its_keys_and_tokens_and_lists_them_as_its_revocations(side: Side):
    user, other = await side.user(), await side.user()
    keys = [await side.keys.create(new_key(user)[0], limit=10, audit=audit("apikey.create")) for _ in range(2)]
    kept = await side.keys.create(new_key(other)[0], limit=10, audit=audit("apikey.create"))
    assert await side.revocations.revocations_of(user) == ()

    erased = await side.users.erase(user, audit=AuditEntry.by(Actor(name="operator:contract"), USER_ERASE, "x"))

    assert await side.revocations.tokens_not_before(user) == erased.erased_at
    for key in keys:
        found = await side.keys.find(key.prefix)
        assert found is not None
        assert found.key.revoked_at is not None
    assert erased.erased_at is not None
    assert set(await side.revocations.revocations_of(user)) == {
        *(ApiKeyRevoked(key_id=key.id) for key in keys),
        SessionsRevoked(user_id=user, not_before=erased.erased_at.timestamp()),
    }
    assert await side.keys.list(other) == (kept,)
    assert await side.revocations.revocations_of(other) == ()
