"""Pages of webhook deliveries, each with its attempts, and their opaque cursors (time and id of the last)."""

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, Literal

from psycopg import AsyncConnection

from domain.adapters.postgres.pool import name_queries
from domain.errors import InvalidRequestError
from domain.models.webhooks import Delivery, DeliveryAttempt, DeliveryPage

_FIRST = (datetime(9999, 1, 1, tzinfo=UTC), "~")  # sorts after every real (time, id)
_DELIVERIES = """
SELECT id, endpoint_id::text, user_id, event_type, status,
       CASE WHEN status = 'pending' THEN next_attempt_at END, created_at, finished_at
FROM webhook_deliveries WHERE id = ANY (%s)
"""
_ATTEMPTS = """
SELECT delivery_id, attempt, at, status_code, latency_ms, error FROM webhook_attempts
WHERE delivery_id = ANY (%s) ORDER BY delivery_id, attempt
"""
name_queries({_DELIVERIES: "webhooks.deliveries_by_id", _ATTEMPTS: "webhooks.attempts_by_delivery"})


def encode_cursor(at: datetime, delivery_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{delivery_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str]:
    """The (time, id) to continue below; the top of the list without a cursor."""
    if cursor is None:
        return _FIRST
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, delivery_id = text.partition("|")
        return datetime.fromisoformat(at), delivery_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequestError("the cursor is not one this API gave out", field="cursor") from None


async def load_deliveries(conn: AsyncConnection, ids: list[str]) -> list[Delivery]:
    """The deliveries of `ids`, in that order, with their attempts."""
    rows = await (await conn.execute(_DELIVERIES, (ids,), prepare=True)).fetchall()
    attempts: dict[str, list[DeliveryAttempt]] = {}
    for a in await (await conn.execute(_ATTEMPTS, (ids,), prepare=True)).fetchall():
        attempts.setdefault(a[0], []).append(
            DeliveryAttempt(attempt=a[1], at=a[2], status_code=a[3], latency_ms=a[4], error=a[5])
        )
    by_id = {row[0]: _delivery(row, attempts.get(row[0], [])) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _delivery(row: tuple[Any, ...], attempts: list[DeliveryAttempt]) -> Delivery:
    return Delivery(
        id=row[0], endpoint_id=row[1], user_id=row[2], event_type=row[3], status=row[4], attempts=tuple(attempts),
        next_attempt_at=row[5], created_at=row[6], finished_at=row[7],
    )  # fmt: skip


async def load_page(
    conn: AsyncConnection, ids: list[str], limit: int, *, by: Literal["created_at", "finished_at"]
) -> DeliveryPage:
    """A page of `limit` from `ids` (one more than a page, when there is more), with the next cursor."""
    items = await load_deliveries(conn, ids[:limit])
    more = len(ids) > limit and items
    last = items[-1] if items else None
    cursor = None
    if more and last is not None:
        at = last.created_at if by == "created_at" else last.finished_at
        cursor = encode_cursor(at or last.created_at, last.id)
    return DeliveryPage(items=tuple(items), next_cursor=cursor)


async def load_one(conn: AsyncConnection, delivery_id: str) -> Delivery:
    return (await load_deliveries(conn, [delivery_id]))[0]
