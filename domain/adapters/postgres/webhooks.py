"""PostgreSQL webhook endpoints: a user's endpoints and their deliveries, each change with its audit entry."""

import uuid
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.webhook_pages import decode_cursor, load_one, load_page
from domain.errors import DeliveryNotFoundError, DeliveryPendingError, UserNotFoundError, WebhookNotFoundError
from domain.models.audit import AuditEntry
from domain.models.webhooks import (
    CreatedEndpoint,
    Delivery,
    DeliveryPage,
    EndpointChanges,
    NewEndpoint,
    WebhookEndpoint,
    webhook_target,
)
from domain.ports.webhooks import WebhookEndpointStore

_COLUMNS = """id::text, user_id, url, events, description, enabled, disabled_reason, created_at, updated_at,
CASE WHEN previous_secret_until > now() THEN previous_secret_until END"""
_USER = "SELECT 1 FROM users WHERE id = %s AND erased_at IS NULL"
_INSERT = f"""
INSERT INTO webhook_endpoints (user_id, url, events, description, secret) VALUES (%s, %s, %s, %s, %s)
RETURNING {_COLUMNS}
"""  # noqa: S608 - constant text
_LIST = f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE user_id = %s ORDER BY created_at DESC, id"  # noqa: S608
_GET = f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE user_id = %s AND id = %s"  # noqa: S608
# A field given as NULL keeps its value; enabling clears the reason and the count of dead deliveries.
_UPDATE = f"""
UPDATE webhook_endpoints SET
    url = coalesce(%(url)s::text, url), events = coalesce(%(events)s::text[], events),
    description = coalesce(%(description)s::text, description), enabled = coalesce(%(enabled)s::boolean, enabled),
    disabled_reason = CASE WHEN %(enabled)s::boolean THEN NULL WHEN NOT %(enabled)s::boolean THEN 'disabled by its user'
                           ELSE disabled_reason END,
    consecutive_dead = CASE WHEN %(enabled)s::boolean THEN 0 ELSE consecutive_dead END,
    updated_at = now()
WHERE user_id = %(user)s AND id = %(id)s
RETURNING {_COLUMNS}
"""  # noqa: S608 - constant text
_DELETE = "DELETE FROM webhook_endpoints WHERE user_id = %s AND id = %s RETURNING id"
_ROTATE = f"""
UPDATE webhook_endpoints SET previous_secret = secret, secret = %s,
    previous_secret_until = now() + %s * interval '1 second', updated_at = now()
WHERE user_id = %s AND id = %s
RETURNING {_COLUMNS}
"""  # noqa: S608 - constant text
_REDELIVER = """
UPDATE webhook_deliveries SET status = 'pending', round_start = attempts, next_attempt_at = now(),
    queued_until = NULL, lease_until = NULL, finished_at = NULL
WHERE id = %s AND endpoint_id = %s AND status <> 'pending'
RETURNING id
"""
_DELIVERY_STATUS = "SELECT status FROM webhook_deliveries WHERE id = %s AND endpoint_id = %s"
_BY_ENDPOINT = """
SELECT id FROM webhook_deliveries
WHERE endpoint_id = %s AND (created_at, id) < (%s, %s)
ORDER BY created_at DESC, id DESC LIMIT %s
"""
_DEAD = """
SELECT id FROM webhook_deliveries
WHERE status = 'dead' AND (finished_at, id) < (%s, %s)
ORDER BY finished_at DESC, id DESC LIMIT %s
"""
name_queries({
    _USER: "webhooks.user", _INSERT: "webhooks.insert", _LIST: "webhooks.list", _GET: "webhooks.get",
    _UPDATE: "webhooks.update", _DELETE: "webhooks.delete", _ROTATE: "webhooks.rotate",
    _REDELIVER: "webhooks.redeliver", _DELIVERY_STATUS: "webhooks.delivery_status",
    _BY_ENDPOINT: "webhooks.deliveries", _DEAD: "webhooks.dead",
})  # fmt: skip


def _endpoint(row: tuple[Any, ...]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row[0], user_id=row[1], url=row[2], events=tuple(row[3]), description=row[4], enabled=row[5],
        disabled_reason=row[6], created_at=row[7], updated_at=row[8], previous_secret_until=row[9],
    )  # fmt: skip


def _uuid(endpoint_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(endpoint_id)
    except ValueError:
        raise WebhookNotFoundError(endpoint_id) from None


async def _check_user(conn: AsyncConnection, user_id: int) -> None:
    if await (await conn.execute(_USER, (user_id,), prepare=True)).fetchone() is None:
        raise UserNotFoundError(user_id)


async def _one(conn: AsyncConnection, sql: str, params: Any, user_id: int, endpoint_id: str) -> tuple[Any, ...]:
    row = await (await conn.execute(sql, params, prepare=True)).fetchone()
    if row is None:
        await _check_user(conn, user_id)
        raise WebhookNotFoundError(endpoint_id)
    return row


class PostgresWebhookEndpoints(WebhookEndpointStore):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def create(self, endpoint: NewEndpoint, *, audit: AuditEntry) -> CreatedEndpoint:
        params = (endpoint.user_id, endpoint.url, list(endpoint.events), endpoint.description, endpoint.secret)
        async with connection(self._pool, write=True) as conn, conn.transaction():
            await _check_user(conn, endpoint.user_id)
            row = await (await conn.execute(_INSERT, params, prepare=True)).fetchone()
            assert row is not None  # an INSERT ... RETURNING
            created = _endpoint(row)
            await append_audit(conn, audit.completed(target=webhook_target(created.user_id, created.id)))
        return CreatedEndpoint(endpoint=created, secret=endpoint.secret)

    async def list(self, user_id: int) -> tuple[WebhookEndpoint, ...]:
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(_LIST, (user_id,), prepare=True)).fetchall()
            if not rows:
                await _check_user(conn, user_id)
        return tuple(_endpoint(row) for row in rows)

    async def get(self, user_id: int, endpoint_id: str) -> WebhookEndpoint:
        async with connection(self._pool) as conn:
            return _endpoint(await _one(conn, _GET, (user_id, _uuid(endpoint_id)), user_id, endpoint_id))

    async def update(
        self, user_id: int, endpoint_id: str, changes: EndpointChanges, *, audit: AuditEntry
    ) -> WebhookEndpoint:
        events = None if changes.events is None else list(changes.events)
        params = {**_scalar_changes(changes), "events": events, "user": user_id, "id": _uuid(endpoint_id)}
        async with connection(self._pool, write=True) as conn, conn.transaction():
            row = await _one(conn, _UPDATE, params, user_id, endpoint_id)
            await append_audit(conn, audit)
        return _endpoint(row)

    async def delete(self, user_id: int, endpoint_id: str, *, audit: AuditEntry) -> None:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            await _one(conn, _DELETE, (user_id, _uuid(endpoint_id)), user_id, endpoint_id)
            await append_audit(conn, audit)

    async def rotate(
        self, user_id: int, endpoint_id: str, secret: str, overlap_s: float, *, audit: AuditEntry
    ) -> WebhookEndpoint:
        params = (secret, overlap_s, user_id, _uuid(endpoint_id))
        async with connection(self._pool, write=True) as conn, conn.transaction():
            row = await _one(conn, _ROTATE, params, user_id, endpoint_id)
            await append_audit(conn, audit)
        return _endpoint(row)

    async def deliveries(self, user_id: int, endpoint_id: str, *, limit: int, cursor: str | None) -> DeliveryPage:
        at, last = decode_cursor(cursor)
        async with connection(self._pool) as conn:
            await _one(conn, _GET, (user_id, _uuid(endpoint_id)), user_id, endpoint_id)
            cur = await conn.execute(_BY_ENDPOINT, (_uuid(endpoint_id), at, last, limit + 1), prepare=True)
            return await load_page(conn, [r[0] for r in await cur.fetchall()], limit, by="created_at")

    async def redeliver(self, user_id: int, endpoint_id: str, delivery_id: str, *, audit: AuditEntry) -> Delivery:
        endpoint = _uuid(endpoint_id)
        async with connection(self._pool, write=True) as conn, conn.transaction():
            await _one(conn, _GET, (user_id, endpoint), user_id, endpoint_id)
            if await (await conn.execute(_REDELIVER, (delivery_id, endpoint), prepare=True)).fetchone() is None:
                found = await (await conn.execute(_DELIVERY_STATUS, (delivery_id, endpoint))).fetchone()
                raise DeliveryNotFoundError(delivery_id) if found is None else DeliveryPendingError(delivery_id)
            await append_audit(conn, audit)
            return await load_one(conn, delivery_id)

    async def dead(self, *, limit: int, cursor: str | None) -> DeliveryPage:
        at, last = decode_cursor(cursor)
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(_DEAD, (at, last, limit + 1), prepare=True)).fetchall()
            return await load_page(conn, [r[0] for r in rows], limit, by="finished_at")


def _scalar_changes(changes: EndpointChanges) -> dict[str, Any]:
    return {"url": changes.url, "description": changes.description, "enabled": changes.enabled}
