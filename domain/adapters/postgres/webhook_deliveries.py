"""PostgreSQL webhook deliveries: the relay's fan-out and dispatch, and each attempt's claim and record.

The delivery row is the record, the queue only a wake-up: a worker killed mid-attempt leaves the row leased;
once the lease runs out the relay sends it to the queue again, and the next attempt runs under a new number.
Every write of an attempt is fenced by (status, attempts), so a late writer changes nothing.
"""

import uuid
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection, name_queries
from domain.models.webhooks import AttemptOutcome, DeliveryClaim, DisabledEndpoint
from domain.ports.webhooks import WebhookDeliveryStore

# One statement: the events leave the outbox as their deliveries are written (or with none: no endpoint wants
# them any more). SKIP LOCKED lets several relays share the outbox.
_FAN_OUT = """
WITH events AS (
    DELETE FROM webhook_outbox WHERE id IN (
        SELECT id FROM webhook_outbox ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
    )
    RETURNING id, user_id, event_type, payload
), written AS (
    INSERT INTO webhook_deliveries (id, endpoint_id, user_id, event_type, payload)
    SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), e.id, ev.user_id, ev.event_type, ev.payload
    FROM events ev JOIN webhook_endpoints e
      ON e.user_id = ev.user_id AND e.enabled AND ev.event_type = ANY (e.events)
    ORDER BY ev.id
)
SELECT count(*) FROM events
"""
_DUE = """
UPDATE webhook_deliveries SET queued_until = now() + %s * interval '1 second'
WHERE id IN (
    SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND (d.queued_until IS NULL OR d.queued_until < now()) AND (d.lease_until IS NULL OR d.lease_until < now())
    ORDER BY d.next_attempt_at LIMIT %s FOR UPDATE OF d SKIP LOCKED
)
RETURNING id
"""
_CLAIM = """
UPDATE webhook_deliveries d SET attempts = d.attempts + 1, lease_until = now() + %s * interval '1 second'
FROM webhook_endpoints e
WHERE d.id = %s AND e.id = d.endpoint_id AND e.enabled AND d.status = 'pending' AND d.next_attempt_at <= now()
  AND (d.lease_until IS NULL OR d.lease_until < now())
RETURNING d.endpoint_id::text, d.attempts, d.attempts - d.round_start, e.url, e.secret,
          CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END, d.payload
"""
_ATTEMPT = """
INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, error) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (delivery_id, attempt) DO NOTHING
"""
_FINISH = """
UPDATE webhook_deliveries SET status = %s, finished_at = now(), lease_until = NULL, queued_until = NULL,
    last_status_code = %s
WHERE id = %s AND status = 'pending' AND attempts = %s
"""
_RETRY = """
UPDATE webhook_deliveries SET next_attempt_at = now() + %s * interval '1 second', lease_until = NULL,
    queued_until = NULL, last_status_code = %s
WHERE id = %s AND status = 'pending' AND attempts = %s
"""
_SUCCEEDED = "UPDATE webhook_endpoints SET consecutive_dead = 0 WHERE id = %s AND consecutive_dead <> 0"
_DEAD = """
UPDATE webhook_endpoints SET consecutive_dead = consecutive_dead + 1,
    enabled = enabled AND consecutive_dead + 1 < %(after)s,
    disabled_reason = CASE WHEN enabled AND consecutive_dead + 1 >= %(after)s
                           THEN %(reason)s ELSE disabled_reason END,
    notify_pending = notify_pending OR (enabled AND consecutive_dead + 1 >= %(after)s)
WHERE id = %(id)s
"""
_GONE = """
UPDATE webhook_endpoints SET enabled = false, disabled_reason = %s, notify_pending = true
WHERE id = %s AND enabled
"""
_TO_NOTIFY = """
UPDATE webhook_endpoints e SET notify_pending = false
FROM users u
WHERE e.id IN (SELECT id FROM webhook_endpoints WHERE notify_pending LIMIT %s FOR UPDATE SKIP LOCKED)
  AND u.id = e.user_id AND u.erased_at IS NULL
RETURNING e.id::text, e.user_id, e.url, coalesce(e.disabled_reason, ''), u.email, u.name
"""
_NOTIFY_AGAIN = "UPDATE webhook_endpoints SET notify_pending = true WHERE id = %s"
name_queries({
    _FAN_OUT: "webhooks.fan_out", _DUE: "webhooks.due", _CLAIM: "webhooks.claim", _ATTEMPT: "webhooks.attempt",
    _FINISH: "webhooks.finish", _RETRY: "webhooks.retry", _SUCCEEDED: "webhooks.endpoint_succeeded",
    _DEAD: "webhooks.endpoint_dead", _GONE: "webhooks.endpoint_gone", _TO_NOTIFY: "webhooks.to_notify",
    _NOTIFY_AGAIN: "webhooks.notify_again",
})  # fmt: skip

GONE_REASON = "the receiver answered 410 Gone"


def _dead_reason(after: int) -> str:
    return f"{after} deliveries in a row failed every attempt"


class PostgresWebhookDeliveries(WebhookDeliveryStore):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def fan_out(self, limit: int) -> int:
        async with connection(self._pool, write=True) as conn:
            row = await (await conn.execute(_FAN_OUT, (limit,), prepare=True)).fetchone()
        return int(row[0]) if row else 0

    async def due(self, limit: int, requeue_after_s: float) -> list[str]:
        async with connection(self._pool, write=True) as conn:
            rows = await (await conn.execute(_DUE, (requeue_after_s, limit), prepare=True)).fetchall()
        return [row[0] for row in rows]

    async def claim(self, delivery_id: str, lease_s: float) -> DeliveryClaim | None:
        async with connection(self._pool, write=True) as conn:
            row = await (await conn.execute(_CLAIM, (lease_s, delivery_id), prepare=True)).fetchone()
        if row is None:
            return None
        secrets = (row[4],) if row[5] is None else (row[4], row[5])
        return DeliveryClaim(
            delivery_id=delivery_id, endpoint_id=row[0], attempt=row[1], attempt_in_round=row[2], url=row[3],
            secrets=secrets, payload=bytes(row[6]),
        )  # fmt: skip

    async def record(self, claim: DeliveryClaim, outcome: AttemptOutcome, *, disable_after: int) -> bool:
        attempt = (claim.delivery_id, claim.attempt, outcome.status_code, outcome.latency_ms, outcome.error)
        fence = (claim.delivery_id, claim.attempt)
        async with connection(self._pool, write=True) as conn, conn.transaction():
            await conn.execute(_ATTEMPT, attempt, prepare=True)
            if outcome.verdict == "retry":
                cur = await conn.execute(_RETRY, (outcome.delay_s, outcome.status_code, *fence), prepare=True)
                return cur.rowcount == 1
            status = "succeeded" if outcome.verdict == "succeeded" else "dead"
            cur = await conn.execute(_FINISH, (status, outcome.status_code, *fence), prepare=True)
            if cur.rowcount != 1:
                return False
            await _judge_endpoint(conn, uuid.UUID(claim.endpoint_id), outcome, disable_after)
        return True

    async def disabled_to_notify(self, limit: int) -> list[DisabledEndpoint]:
        async with connection(self._pool, write=True) as conn:
            rows = await (await conn.execute(_TO_NOTIFY, (limit,), prepare=True)).fetchall()
        return [_disabled(row) for row in rows]

    async def notify_again(self, endpoint_id: str) -> None:
        async with connection(self._pool, write=True) as conn:
            await conn.execute(_NOTIFY_AGAIN, (uuid.UUID(endpoint_id),), prepare=True)


async def _judge_endpoint(conn: AsyncConnection, endpoint: uuid.UUID, outcome: AttemptOutcome, after: int) -> None:
    if outcome.verdict == "succeeded":
        await conn.execute(_SUCCEEDED, (endpoint,), prepare=True)
    elif outcome.verdict == "gone":
        await conn.execute(_GONE, (GONE_REASON, endpoint), prepare=True)
    else:
        await conn.execute(_DEAD, {"after": after, "reason": _dead_reason(after), "id": endpoint}, prepare=True)


def _disabled(row: tuple[Any, ...]) -> DisabledEndpoint:
    return DisabledEndpoint(endpoint_id=row[0], user_id=row[1], url=row[2], reason=row[3], email=row[4], name=row[5])
