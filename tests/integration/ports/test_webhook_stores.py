"""The webhook stores' contract, run against the in-memory twins and PostgreSQL alike.

The PostgreSQL relay statements work on every user's rows (as the relay does), so each test looks only at the
deliveries of its own users.
"""

import asyncio
from dataclasses import dataclass

import pytest

from domain.adapters.clock import SystemClock
from domain.adapters.memory.webhook_deliveries import InMemoryWebhookDeliveries
from domain.adapters.memory.webhooks import InMemoryWebhookEndpoints, InMemoryWebhooks
from domain.adapters.postgres.pool import Pool
from domain.adapters.postgres.webhook_deliveries import PostgresWebhookDeliveries
from domain.adapters.postgres.webhook_outbox import append_event
from domain.adapters.postgres.webhooks import PostgresWebhookEndpoints
from domain.errors import (
    DeliveryNotFoundError,
    DeliveryPendingError,
    InvalidRequestError,
    UserNotFoundError,
    WebhookNotFoundError,
)
from domain.models.audit import AuditEntry
from domain.models.webhooks import AttemptOutcome, EndpointChanges, NewEndpoint, generate_secret
from domain.ports.webhooks import WebhookDeliveryStore, WebhookEndpointStore
from tests.integration.ports.conftest import CONTRACT_ACTOR, new_id

pytestmark = [pytest.mark.integration]

AUDIT = AuditEntry.by(CONTRACT_ACTOR, "webhook.test", "user:0")
BIG = 100_000


@dataclass
class Hooks:
    endpoints: WebhookEndpointStore
    deliveries: WebhookDeliveryStore
    memory: InMemoryWebhooks | None
    pool: Pool | None

    async def user(self) -> int:
        user_id = new_id()
        if self.memory is not None:
            self.memory.users[user_id] = (f"user{user_id}@example.com", f"User {user_id}")
        else:
            assert self.pool is not None
            async with self.pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO users (id, email, name) VALUES (%s, %s, %s)",
                    (user_id, f"user{user_id}@example.com", f"User {user_id}"),
                )
        return user_id

    async def event(self, user_id: int, event_type: str = "user.updated") -> None:
        if self.memory is not None:
            self.memory.record_event(user_id, event_type, b'{"type":"%s"}' % event_type.encode())
            return
        assert self.pool is not None
        async with self.pool.connection() as conn, conn.transaction():
            await append_event(conn, user_id, event_type, {"n": 1})

    async def endpoint(self, user_id: int, events: tuple[str, ...] = ("user.updated",)) -> str:
        url, secret = "https://example.com/h", generate_secret()
        new = NewEndpoint(user_id=user_id, url=url, events=events, description="", secret=secret)
        return (await self.endpoints.create(new, audit=AUDIT)).endpoint.id

    async def due_of(self, endpoint_id: str, requeue_after_s: float = 30.0) -> list[str]:
        await self.deliveries.fan_out(BIG)
        due = set(await self.deliveries.due(BIG, requeue_after_s))
        mine = await self._all_of(endpoint_id)
        return [d for d in mine if d in due]

    async def _all_of(self, endpoint_id: str) -> list[str]:
        user = await self._owner(endpoint_id)
        page = await self.endpoints.deliveries(user, endpoint_id, limit=500, cursor=None)
        return [d.id for d in page.items]

    async def _owner(self, endpoint_id: str) -> int:
        if self.memory is not None:
            return self.memory.endpoints[endpoint_id].view.user_id
        assert self.pool is not None
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT user_id FROM webhook_endpoints WHERE id = %s", (endpoint_id,))
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture(params=["memory", "postgres"])
def hooks(request: pytest.FixtureRequest, contract_pool: Pool) -> Hooks:
    if request.param == "memory":
        state = InMemoryWebhooks(SystemClock())
        return Hooks(InMemoryWebhookEndpoints(state), InMemoryWebhookDeliveries(state), state, None)
    return Hooks(PostgresWebhookEndpoints(contract_pool), PostgresWebhookDeliveries(contract_pool), None, contract_pool)


def outcome(verdict: str, code: int | None = 500, delay_s: float | None = None) -> AttemptOutcome:
    return AttemptOutcome(status_code=code, latency_ms=3.0, error=None, verdict=verdict, delay_s=delay_s)  # type: ignore[arg-type]


async def test_endpoints_are_the_users_own_and_change_as_asked(hooks):
    user, other = await hooks.user(), await hooks.user()
    endpoint_id = await hooks.endpoint(user)
    assert [e.id for e in await hooks.endpoints.list(user)] == [endpoint_id]
    assert await hooks.endpoints.list(other) == ()
    with pytest.raises(WebhookNotFoundError):
        await hooks.endpoints.get(other, endpoint_id)
    with pytest.raises(UserNotFoundError):
        await hooks.endpoints.list(new_id())
    changed = await hooks.endpoints.update(user, endpoint_id, EndpointChanges(enabled=False), audit=AUDIT)
    assert (changed.enabled, changed.disabled_reason, changed.url) == (
        False,
        "disabled by its user",
        "https://example.com/h",
    )
    rotated = await hooks.endpoints.rotate(user, endpoint_id, generate_secret(), 60.0, audit=AUDIT)
    assert rotated.previous_secret_until is not None
    await hooks.endpoints.delete(user, endpoint_id, audit=AUDIT)
    with pytest.raises(WebhookNotFoundError):
        await hooks.endpoints.get(user, endpoint_id)


async def test_an_event_becomes_one_delivery_per_enabled_endpoint_that_subscribes(hooks):
    user = await hooks.user()
    wants, other_event, disabled = (
        await hooks.endpoint(user), await hooks.endpoint(user, ("cash.moved",)), await hooks.endpoint(user),
    )  # fmt: skip
    await hooks.endpoints.update(user, disabled, EndpointChanges(enabled=False), audit=AUDIT)
    await hooks.event(user)
    assert len(await hooks.due_of(wants)) == 1
    assert await hooks.due_of(other_event) == []
    assert await hooks.due_of(disabled) == []


async def test_a_due_delivery_is_queued_once_claimed_once_and_fenced_by_its_attempt(hooks):
    user = await hooks.user()
    endpoint_id = await hooks.endpoint(user)
    await hooks.event(user)
    [delivery_id] = await hooks.due_of(endpoint_id)
    assert await hooks.due_of(endpoint_id) == []  # already sent to the queue
    claim = await hooks.deliveries.claim(delivery_id, 30.0)
    assert claim is not None
    assert (claim.attempt, claim.attempt_in_round, claim.url) == (1, 1, "https://example.com/h")
    assert await hooks.deliveries.claim(delivery_id, 30.0) is None  # leased
    assert await hooks.deliveries.record(claim, outcome("retry", delay_s=0.0), disable_after=5)
    again = await hooks.deliveries.claim(delivery_id, 30.0)
    assert again is not None
    assert again.attempt == 2
    assert not await hooks.deliveries.record(claim, outcome("succeeded", 200), disable_after=5)  # a late writer
    assert await hooks.deliveries.record(again, outcome("succeeded", 200), disable_after=5)
    [delivery] = (await hooks.endpoints.deliveries(user, endpoint_id, limit=10, cursor=None)).items
    assert (delivery.id, delivery.status) == (delivery_id, "succeeded")
    assert [a.status_code for a in delivery.attempts] == [500, 200]


async def test_a_lease_that_runs_out_lets_another_attempt_claim_it(hooks):
    user = await hooks.user()
    endpoint_id = await hooks.endpoint(user)
    await hooks.event(user)
    [delivery_id] = await hooks.due_of(endpoint_id, requeue_after_s=0.2)
    first = await hooks.deliveries.claim(delivery_id, 0.2)  # and then its worker is killed
    assert first is not None
    await asyncio.sleep(0.4)
    assert await hooks.due_of(endpoint_id) == [delivery_id]
    second = await hooks.deliveries.claim(delivery_id, 30.0)
    assert second is not None
    assert second.attempt == first.attempt + 1


async def test_dead_deliveries_in_a_row_disable_the_endpoint_and_its_user_is_told_once(hooks):
    user = await hooks.user()
    endpoint_id = await hooks.endpoint(user)
    for _ in range(2):
        await hooks.event(user)
    for delivery_id in await hooks.due_of(endpoint_id):
        claim = await hooks.deliveries.claim(delivery_id, 30.0)
        assert claim is not None
        assert await hooks.deliveries.record(claim, outcome("dead"), disable_after=2)
    endpoint = await hooks.endpoints.get(user, endpoint_id)
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "2 deliveries in a row failed every attempt")
    told = [e for e in await hooks.deliveries.disabled_to_notify(BIG) if e.endpoint_id == endpoint_id]
    assert [(e.user_id, e.email) for e in told] == [(user, f"user{user}@example.com")]
    assert [e for e in await hooks.deliveries.disabled_to_notify(BIG) if e.endpoint_id == endpoint_id] == []
    dead = await hooks.endpoints.dead(limit=BIG, cursor=None)
    assert len([d for d in dead.items if d.endpoint_id == endpoint_id]) == 2


async def test_410_disables_at_once_and_a_redelivery_starts_a_new_round_under_the_same_id(hooks):
    user = await hooks.user()
    endpoint_id = await hooks.endpoint(user)
    await hooks.event(user)
    [delivery_id] = await hooks.due_of(endpoint_id)
    claim = await hooks.deliveries.claim(delivery_id, 30.0)
    assert claim is not None
    with pytest.raises(DeliveryPendingError):
        await hooks.endpoints.redeliver(user, endpoint_id, delivery_id, audit=AUDIT)
    assert await hooks.deliveries.record(claim, outcome("gone", 410), disable_after=5)
    assert (await hooks.endpoints.get(user, endpoint_id)).enabled is False
    again = await hooks.endpoints.redeliver(user, endpoint_id, delivery_id, audit=AUDIT)
    assert (again.id, again.status) == (delivery_id, "pending")
    assert await hooks.due_of(endpoint_id) == []  # the endpoint is disabled: it waits
    await hooks.endpoints.update(user, endpoint_id, EndpointChanges(enabled=True), audit=AUDIT)
    assert await hooks.due_of(endpoint_id) == [delivery_id]
    round_two = await hooks.deliveries.claim(delivery_id, 30.0)
    assert round_two is not None
    assert (round_two.attempt, round_two.attempt_in_round) == (2, 1)
    with pytest.raises(DeliveryNotFoundError):
        await hooks.endpoints.redeliver(user, endpoint_id, "msg_" + "0" * 32, audit=AUDIT)


async def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(hooks):
    user = await hooks.user()
    endpoint_id = await hooks.endpoint(user)
    new = generate_secret()
    await hooks.endpoints.rotate(user, endpoint_id, new, 60.0, audit=AUDIT)
    await hooks.event(user)
    [delivery_id] = await hooks.due_of(endpoint_id)
    claim = await hooks.deliveries.claim(delivery_id, 30.0)
    assert claim is not None
    assert len(claim.secrets) == 2
    assert claim.secrets[0] == new
    await hooks.endpoints.rotate(user, endpoint_id, generate_secret(), 0.0, audit=AUDIT)
    assert (await hooks.endpoints.get(user, endpoint_id)).previous_secret_until is None


async def test_deliveries_page_newest_first_and_refuse_a_cursor_not_given_out(hooks):
    user = await hooks.user()
    endpoint_id = await hooks.endpoint(user)
    for _ in range(3):
        await hooks.event(user)
        await hooks.deliveries.fan_out(BIG)
    first = await hooks.endpoints.deliveries(user, endpoint_id, limit=2, cursor=None)
    assert len(first.items) == 2
    assert first.next_cursor is not None
    rest = await hooks.endpoints.deliveries(user, endpoint_id, limit=2, cursor=first.next_cursor)
    assert (len(rest.items), rest.next_cursor) == (1, None)
    assert len({d.id for d in (*first.items, *rest.items)}) == 3
    with pytest.raises(InvalidRequestError):
        await hooks.endpoints.deliveries(user, endpoint_id, limit=2, cursor="bm90LWEtY3Vyc29y")
