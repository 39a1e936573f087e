"""The revocation watch through the twins: the channel, the fallback reads while it is not trusted, and
what stays refused once known."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from domain.adapters.clock import SystemClock
from domain.adapters.memory.credentials import InMemoryCredentials, InMemoryRevocationStore
from domain.adapters.memory.holdings import InMemoryInvalidationBus, InMemoryInvalidationHub
from domain.errors import DatabaseUnavailableError
from domain.models.audit import AuditEntry
from domain.models.invalidations import ApiKeyRevoked, Revocation, SessionsRevoked
from domain.services.invalidations import listen_for_invalidations
from domain.services.revocations import REVOKED, RevocationWatch

USER = 7
AUDIT = AuditEntry(actor="user:7", action="sessions.revoke", target="user:7", request_id=None, change={})


class CountingStore(InMemoryRevocationStore):
    def __init__(self, state: InMemoryCredentials) -> None:
        super().__init__(state)
        self.reads = 0
        self.watermark_reads = 0
        self.down = False

    async def revoked_within(self, seconds: float) -> tuple[Revocation, ...]:
        if self.down:
            raise DatabaseUnavailableError()
        self.reads += 1
        return await super().revoked_within(seconds)

    async def tokens_not_before(self, user_id: int) -> datetime | None:
        if self.down:
            raise DatabaseUnavailableError()
        self.watermark_reads += 1
        return await super().tokens_not_before(user_id)


@pytest.fixture
def store() -> CountingStore:
    state = InMemoryCredentials(SystemClock())
    state.add_user(USER)
    return CountingStore(state)


@contextlib.asynccontextmanager
async def listening(watch: RevocationWatch, bus: InMemoryInvalidationBus) -> AsyncIterator[None]:
    task = asyncio.create_task(listen_for_invalidations(bus, [watch]))
    await asyncio.sleep(0)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_messages_revoke_keys_for_good_and_move_watermarks_forward_only(store: CountingStore):
    watch = RevocationWatch(store, InMemoryInvalidationHub().bus())
    watch.apply(ApiKeyRevoked(key_id="k1"))
    assert watch.not_before["apikey:k1"] == REVOKED
    assert watch.revoked("apikey:k1", 1e12)
    watch.apply(SessionsRevoked(user_id=USER, not_before=100.5))
    watch.apply(SessionsRevoked(user_id=USER, not_before=50.0))  # an older message, late
    assert watch.revoked("user:7", 100.0)
    assert not watch.revoked("user:7", 100.5)  # issued at the watermark or after: valid
    assert not watch.revoked("user:8", 0.0)


async def test_a_session_revocation_reaches_every_process_before_it_returns(store: CountingStore):
    hub = InMemoryInvalidationHub()
    bus_there = hub.bus()
    here, there = RevocationWatch(store, hub.bus()), RevocationWatch(store, bus_there)
    async with listening(there, bus_there):
        watermark = await here.revoke_sessions(USER, actor="user:7", request_id="r1")
        assert there.revoked("user:7", watermark - 1)
        assert here.revoked("user:7", watermark - 1)  # the writer's own process too, at once
    assert store.state.not_before[USER].timestamp() == watermark


async def test_a_users_watermark_is_read_once_on_first_sight(store: CountingStore):
    await InMemoryRevocationStore(store.state).revoke_sessions(USER, audit=AUDIT)
    watch = RevocationWatch(store, InMemoryInvalidationHub().bus())  # started after the revocation
    await watch.know_user(USER)
    await watch.know_user(USER)
    await watch.know_user(8)
    assert store.watermark_reads == 2
    assert watch.revoked("user:7", store.state.not_before[USER].timestamp() - 1)


async def test_while_the_channel_is_trusted_the_store_is_not_read(store: CountingStore):
    bus = InMemoryInvalidationHub().bus()
    watch = RevocationWatch(store, bus)
    async with listening(watch, bus):
        await watch.catch_up()  # the first turn reads once: the channel was not trusted before
        for _ in range(5):
            await watch.catch_up()
    assert store.reads == 1


async def test_what_the_channel_missed_is_read_from_the_store_until_and_after_it_is_back(store: CountingStore):
    hub = InMemoryInvalidationHub()
    bus = hub.bus()
    watch = RevocationWatch(store, bus)
    writer = RevocationWatch(store, hub.bus())
    async with listening(watch, bus):
        await watch.catch_up()
        bus.lose()  # the subscription drops: deaf, distrusted
        watermark = await writer.revoke_sessions(USER, actor="operator:ops", request_id=None)
        assert not watch.revoked("user:7", watermark - 1)  # missed on the channel
        await watch.catch_up()
        assert watch.revoked("user:7", watermark - 1)  # learnt from the store
        reads = store.reads
        await watch.catch_up()
        assert store.reads == reads + 1  # read on every turn while the channel is down
        bus.up = True
        await watch.catch_up()
        await watch.catch_up()
        assert store.reads == reads + 2  # once more after it is back, then never


async def test_what_is_known_stays_refused_with_the_channel_and_the_store_down(store: CountingStore):
    bus = InMemoryInvalidationHub().bus()
    watch = RevocationWatch(store, bus)
    async with listening(watch, bus):
        await watch.revoke_sessions(USER, actor="user:7", request_id=None)
        watch.apply(ApiKeyRevoked(key_id="k1"))
        bus.lose()
        store.down = True
        await watch.catch_up()  # logged, not raised
        assert watch.revoked("apikey:k1", 0.0)
        assert watch.revoked("user:7", datetime.now(UTC).timestamp() - 60)
        with pytest.raises(DatabaseUnavailableError):
            await watch.know_user(8)  # a user never seen cannot be checked: the caller answers 503


async def test_the_background_turns_read_at_least_twice_a_second_while_the_channel_is_down(store: CountingStore):
    bus = InMemoryInvalidationHub().bus()
    watch = RevocationWatch(store, bus)  # never listening: never trusted
    task = asyncio.create_task(watch.run())
    await asyncio.sleep(1.1)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert store.reads >= 2
