"""The transactional outbox: an event is recorded in the caller's transaction, with the change it tells about.

Nothing is written for a user with no enabled endpoint subscribed to the event, so a write pays one indexed
lookup and no row. The relay (`PostgresWebhookDeliveries.fan_out`) turns each row into deliveries.
"""

from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from domain.adapters.postgres.pool import name_queries
from domain.models.webhooks import event_body

_APPEND = """
INSERT INTO webhook_outbox (user_id, event_type, payload)
SELECT %(user)s, %(type)s, %(payload)s
WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE user_id = %(user)s AND enabled AND %(type)s = ANY (events))
"""
_FORGET = "DELETE FROM webhook_endpoints WHERE user_id = %s"  # their deliveries and attempts go with them
name_queries({_APPEND: "webhooks.outbox_append", _FORGET: "webhooks.forget_user"})


async def append_event(conn: AsyncConnection, user_id: int, event_type: str, data: Any) -> None:
    """Record `event_type` for `user_id` in `conn`'s open transaction; `data` is the body's `data` field."""
    payload = event_body(event_type, datetime.now(UTC), data)
    await conn.execute(_APPEND, {"user": user_id, "type": event_type, "payload": payload}, prepare=True)


async def forget_webhooks(conn: AsyncConnection, user_id: int) -> None:
    """Erasure: the user's endpoints (their URLs and secrets), deliveries and events, in `conn`'s transaction."""
    await conn.execute(_FORGET, (user_id,), prepare=True)
    await conn.execute("DELETE FROM webhook_outbox WHERE user_id = %s", (user_id,))
