"""PostgreSQL credentials: API keys (only a digest of each secret), and the revocation record.

Each change and its audit entry commit in one transaction. A user's key set is changed under that
user's row lock, so the limit on keys per user holds under concurrent requests.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain import timing
from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.pool import connection, name_queries
from domain.batching import BusyBatch
from domain.errors import ApiKeyLimitError, ApiKeyNotFoundError, ConflictError, UserNotFoundError
from domain.models.api_keys import ApiKey, NewApiKey, StoredApiKey
from domain.models.audit import AuditEntry, key_target
from domain.models.invalidations import ApiKeyRevoked, Revocation, SessionsRevoked
from domain.ports.credentials import ApiKeyStore, RevocationStore

_LOCK_USER = "SELECT id FROM users WHERE id = %s FOR UPDATE"
_USER_EXISTS = "SELECT 1 FROM users WHERE id = %s"
_ACTIVE = "SELECT count(*) FROM api_keys WHERE user_id = %s AND revoked_at IS NULL"
# Columns of an ApiKey, in order (see `_key`). Statements are spelled out in full: no SQL is built.
_INSERT = """
INSERT INTO api_keys (id, user_id, prefix, digest, name, scopes, expires_at)
VALUES (gen_random_uuid(), %s, %s, %s, %s, %s, %s)
ON CONFLICT (prefix) DO NOTHING
RETURNING id::text, user_id, prefix, name, scopes, created_at, last_used_at, expires_at, revoked_at
"""
_LIST = """
SELECT id::text, user_id, prefix, name, scopes, created_at, last_used_at, expires_at, revoked_at FROM api_keys
WHERE user_id = %s AND revoked_at IS NULL
ORDER BY created_at DESC, id DESC
"""
_FIND = """
SELECT id::text, user_id, prefix, name, scopes, created_at, last_used_at, expires_at, revoked_at, digest
FROM api_keys WHERE prefix = %s
"""
_REVOKE = """
UPDATE api_keys SET revoked_at = now()
WHERE id = %s AND user_id = %s AND revoked_at IS NULL
RETURNING id::text, user_id, prefix, name, scopes, created_at, last_used_at, expires_at, revoked_at
"""
_RECORD_USE = """
UPDATE api_keys k SET last_used_at = u.at
FROM unnest(%s::uuid[], %s::timestamptz[]) AS u(id, at)
WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
"""
# Never lowered: a second revocation moves the watermark to now, a clock step back leaves it.
_REVOKE_SESSIONS = """
UPDATE users SET tokens_not_before = greatest(tokens_not_before, now())
WHERE id = %s
RETURNING tokens_not_before
"""
# A process sees its callers' tokens for the first time in bursts (just started, or a new user crowd): the
# watermarks asked for while reads are in flight are read together (`BusyBatch`), like holdings.
_NOT_BEFORE = "SELECT id, tokens_not_before FROM users WHERE id = ANY(%(users)s)"
_NOT_BEFORE_IN_FLIGHT = 2
# Both halves are served by partial indexes on the revocation columns (migration 0005).
_REVOKED_WITHIN = """
SELECT 'apikey', id::text, NULL::float8 FROM api_keys
WHERE revoked_at IS NOT NULL AND revoked_at >= now() - %s * interval '1 second'
UNION ALL
SELECT 'sessions', id::text, extract(epoch FROM tokens_not_before)::float8 FROM users
WHERE tokens_not_before IS NOT NULL AND tokens_not_before >= now() - %s * interval '1 second'
"""
_OF_USER = """
SELECT 'apikey', id::text, NULL::float8 FROM api_keys WHERE user_id = %s AND revoked_at IS NOT NULL
UNION ALL
SELECT 'sessions', id::text, extract(epoch FROM tokens_not_before)::float8 FROM users
WHERE id = %s AND tokens_not_before IS NOT NULL
"""
name_queries({
    _LOCK_USER: "api_keys.lock_user", _USER_EXISTS: "api_keys.user_exists", _ACTIVE: "api_keys.active",
    _INSERT: "api_keys.insert", _LIST: "api_keys.list", _FIND: "api_keys.find", _REVOKE: "api_keys.revoke",
    _RECORD_USE: "api_keys.record_use", _REVOKE_SESSIONS: "sessions.revoke", _NOT_BEFORE: "sessions.not_before",
    _REVOKED_WITHIN: "revocations.within", _OF_USER: "revocations.of_user",
})  # fmt: skip


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(
        id=row[0], user_id=row[1], prefix=row[2], name=row[3], scopes=tuple(row[4]), created_at=row[5],
        last_used_at=row[6], expires_at=row[7], revoked_at=row[8],
    )  # fmt: skip


class PostgresApiKeyStore(ApiKeyStore):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def create(self, key: NewApiKey, *, limit: int, audit: AuditEntry) -> ApiKey:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            await _lock_user(conn, key.user_id)
            active = await (await conn.execute(_ACTIVE, (key.user_id,), prepare=True)).fetchone()
            if active is not None and active[0] >= limit:
                raise ApiKeyLimitError(key.user_id, limit)
            params = (key.user_id, key.prefix, key.digest, key.name, list(key.scopes), key.expires_at)
            row = await (await conn.execute(_INSERT, params, prepare=True)).fetchone()
            if row is None:
                raise ConflictError("an API key with this prefix exists: try again")
            created = _key(row)
            await append_audit(conn, audit.completed(target=key_target(created.user_id, created.id)))
        return created

    async def list(self, user_id: int) -> tuple[ApiKey, ...]:
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(_LIST, (user_id,), prepare=True)).fetchall()
            if not rows and await (await conn.execute(_USER_EXISTS, (user_id,), prepare=True)).fetchone() is None:
                raise UserNotFoundError(user_id)
        return tuple(_key(row) for row in rows)

    async def find(self, prefix: str) -> StoredApiKey | None:
        async with connection(self._pool) as conn:
            row = await (await conn.execute(_FIND, (prefix,), prepare=True)).fetchone()
        return None if row is None else StoredApiKey(key=_key(row), digest=bytes(row[9]))

    async def revoke(self, user_id: int, key_id: str, *, audit: AuditEntry) -> ApiKey:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            row = await (await conn.execute(_REVOKE, (key_id, user_id), prepare=True)).fetchone()
            if row is None:
                raise ApiKeyNotFoundError(key_id)
            await append_audit(conn, audit)
        return _key(row)

    async def record_use(self, used: Mapping[str, datetime]) -> None:
        if not used:
            return
        ids, times = list(used), list(used.values())
        async with connection(self._pool, write=True) as conn:
            await conn.execute(_RECORD_USE, (ids, times), prepare=True)


class PostgresRevocationStore(RevocationStore):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._watermarks: BusyBatch[int, datetime | None] = BusyBatch(
            self._not_before_many, max_in_flight=_NOT_BEFORE_IN_FLIGHT, waited=timing.add_db
        )

    async def revoke_sessions(self, user_id: int, *, audit: AuditEntry) -> datetime:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            row = await (await conn.execute(_REVOKE_SESSIONS, (user_id,), prepare=True)).fetchone()
            if row is None:
                raise UserNotFoundError(user_id)
            await append_audit(conn, audit)
        watermark: datetime = row[0]
        return watermark

    async def tokens_not_before(self, user_id: int) -> datetime | None:
        return await self._watermarks.submit(user_id)

    async def _not_before_many(self, user_ids: Sequence[int]) -> list[datetime | None]:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_NOT_BEFORE, {"users": list(set(user_ids))}, prepare=True)
            found: dict[int, datetime | None] = dict(await cur.fetchall())
        return [found.get(user_id) for user_id in user_ids]

    async def revocations_of(self, user_id: int) -> tuple[Revocation, ...]:
        return await self._revocations(_OF_USER, (user_id, user_id))

    async def revoked_within(self, seconds: float) -> tuple[Revocation, ...]:
        return await self._revocations(_REVOKED_WITHIN, (seconds, seconds))

    async def _revocations(self, query: str, params: tuple[object, ...]) -> tuple[Revocation, ...]:
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(query, params, prepare=True)).fetchall()
        return tuple(
            ApiKeyRevoked(key_id=ident) if kind == "apikey" else SessionsRevoked(user_id=int(ident), not_before=at)
            for kind, ident, at in rows
        )


async def _lock_user(conn: AsyncConnection, user_id: int) -> None:
    if await (await conn.execute(_LOCK_USER, (user_id,), prepare=True)).fetchone() is None:
        raise UserNotFoundError(user_id)
