"""PostgreSQL users: each change in one transaction with its audit entry; erasure over all of a user's rows."""

from psycopg import AsyncConnection, errors
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.webhook_outbox import append_event, forget_webhooks
from domain.errors import DuplicateUserError, UserErasedError, UserNotFoundError
from domain.models.audit import AuditEntry, user_target
from domain.models.users import ERASED_NAME, NewUser, User, UserChanges, UserPage, erased_email
from domain.ports.users import UserStore

_COLUMNS = "id, email, name, external_id, base_currency, created_at, updated_at, erased_at"
# Rows loaded with explicit ids (demo data, tests) may sit ahead of the sequence: skip past them.
_INSERT = f"""
INSERT INTO users (id, email, name, external_id, base_currency)
VALUES (nextval('users_id_seq'), %s, %s, %s, %s)
ON CONFLICT (id) DO NOTHING
RETURNING {_COLUMNS}
"""  # noqa: S608 - constant text
_GET = f"SELECT {_COLUMNS} FROM users WHERE id = %s"  # noqa: S608
_BY_EXTERNAL_ID = f"SELECT {_COLUMNS} FROM users WHERE external_id = %s"  # noqa: S608
_LOCK = f"SELECT {_COLUMNS} FROM users WHERE id = %s FOR UPDATE"  # noqa: S608
# One statement for any partial update: a flag per field says whether it was given.
_UPDATE = f"""
UPDATE users SET
    email = CASE WHEN %s THEN %s ELSE email END,
    name = CASE WHEN %s THEN %s ELSE name END,
    external_id = CASE WHEN %s THEN %s ELSE external_id END,
    base_currency = CASE WHEN %s THEN %s ELSE base_currency END,
    updated_at = now()
WHERE id = %s
RETURNING {_COLUMNS}
"""  # noqa: S608
_PAGE = f"""
SELECT {_COLUMNS} FROM users WHERE id < %s AND erased_at IS NULL ORDER BY id DESC LIMIT %s
"""  # noqa: S608
_BY_EMAIL = f"SELECT {_COLUMNS} FROM users WHERE email = %s AND id < %s AND erased_at IS NULL"  # noqa: S608
_ERASE = f"""
UPDATE users SET
    email = %s, name = %s, external_id = NULL,
    erased_at = now(), tokens_not_before = now(), updated_at = now()
WHERE id = %s
RETURNING {_COLUMNS}
"""  # noqa: S608
# Erasure is one transaction over the user's rows: the stored PDFs go, and a report not finished never will be
# (its worker's fenced writes find the row failed, so nothing is rendered or sent to the replaced address).
_ERASE_REPORTS = """
UPDATE reports SET
    document = NULL,
    error = CASE WHEN status IN ('queued', 'running') THEN 'the user was erased' ELSE error END,
    finished_at = CASE WHEN status IN ('queued', 'running') THEN now() ELSE finished_at END,
    status = CASE WHEN status IN ('queued', 'running') THEN 'failed' ELSE status END
WHERE user_id = %s AND (document IS NOT NULL OR status IN ('queued', 'running'))
"""
# Its keys stop in the same transaction (its tokens stop at `tokens_not_before` above); every process learns both
# once it commits (`RevocationWatch.forget_user`), or from the database if the announcement is lost.
_ERASE_KEYS = "UPDATE api_keys SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL"
_NO_CURSOR = 2**63 - 1
_UNIQUE_FIELDS = {"users_email_key": "email", "users_external_id_key": "external_id"}
name_queries({
    _INSERT: "users.insert", _GET: "users.get", _LOCK: "users.lock", _UPDATE: "users.update", _PAGE: "users.page",
    _BY_EMAIL: "users.by_email", _ERASE: "users.erase", _ERASE_REPORTS: "users.erase_reports",
    _ERASE_KEYS: "users.erase_keys", _BY_EXTERNAL_ID: "users.by_external_id",
})  # fmt: skip


def _user(row: tuple[object, ...]) -> User:
    keys = ("id", "email", "name", "external_id", "base_currency", "created_at", "updated_at", "erased_at")
    return User(**dict(zip(keys, row, strict=True)))  # type: ignore[arg-type]


def _duplicate(e: errors.UniqueViolation) -> DuplicateUserError | errors.UniqueViolation:
    field = _UNIQUE_FIELDS.get(e.diag.constraint_name or "")
    return DuplicateUserError(field) if field else e


async def _live(conn: AsyncConnection, user_id: int) -> User:
    """The user's row, locked for this transaction; raises unless the user exists and is not erased."""
    row = await (await conn.execute(_LOCK, (user_id,), prepare=True)).fetchone()
    if row is None:
        raise UserNotFoundError(user_id)
    user = _user(row)
    if user.erased_at is not None:
        raise UserErasedError(user_id)
    return user


class PostgresUserStore(UserStore):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def create(self, user: NewUser, *, audit: AuditEntry) -> User:
        params = (user.email, user.name, user.external_id, user.base_currency)
        try:
            async with connection(self._pool, write=True) as conn, conn.transaction():
                row = None
                while row is None:
                    row = await (await conn.execute(_INSERT, params, prepare=True)).fetchone()
                created = _user(row)
                await append_audit(conn, audit.completed(target=user_target(created.id)))
        except errors.UniqueViolation as e:
            raise _duplicate(e) from None
        return created

    async def get(self, user_id: int) -> User | None:
        async with connection(self._pool) as conn:
            row = await (await conn.execute(_GET, (user_id,), prepare=True)).fetchone()
        return _user(row) if row else None

    async def by_external_id(self, external_id: str) -> User | None:
        async with connection(self._pool) as conn:
            row = await (await conn.execute(_BY_EXTERNAL_ID, (external_id,), prepare=True)).fetchone()
        return _user(row) if row else None

    async def update(self, user_id: int, changes: UserChanges, *, audit: AuditEntry) -> User:
        given = changes.fields()
        flags = [(name in given, given.get(name)) for name in ("email", "name", "external_id", "base_currency")]
        try:
            async with connection(self._pool, write=True) as conn, conn.transaction():
                user = await _live(conn, user_id)
                if not given:
                    return user
                row = await (await conn.execute(_UPDATE, (*(v for f in flags for v in f), user_id))).fetchone()
                assert row is not None  # the row is locked above
                await append_event(conn, user_id, "user.updated", {"user_id": user_id, "changed": sorted(given)})
                await append_audit(conn, audit)
        except errors.UniqueViolation as e:
            raise _duplicate(e) from None
        return _user(row)

    async def page(self, *, limit: int, before: int | None, email: str | None) -> UserPage:
        async with connection(self._pool) as conn:
            if email is not None:
                cur = await conn.execute(_BY_EMAIL, (email.lower(), before or _NO_CURSOR), prepare=True)
            else:
                cur = await conn.execute(_PAGE, (before or _NO_CURSOR, limit + 1), prepare=True)
            rows = await cur.fetchall()
        items = tuple(_user(row) for row in rows[:limit])
        return UserPage(items=items, next_before=items[-1].id if len(rows) > limit else None)

    async def erase(self, user_id: int, *, audit: AuditEntry) -> User:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            await _live(conn, user_id)
            row = await (await conn.execute(_ERASE, (erased_email(user_id), ERASED_NAME, user_id))).fetchone()
            assert row is not None  # the row is locked above
            await conn.execute(_ERASE_REPORTS, (user_id,))
            await conn.execute(_ERASE_KEYS, (user_id,))
            await forget_webhooks(conn, user_id)
            await append_audit(conn, audit)
        return _user(row)
