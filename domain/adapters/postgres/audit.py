"""PostgreSQL audit log: `append_audit` chains entries inside the caller's transaction; the log pages and walks them.

Appends are serialised by a transaction-level advisory lock, taken as the transaction's last step and held to
its commit: the next appender reads the last hash only once this one is committed, so the chain follows the
commit order. The lock is held for two round trips and the commit, whatever the transaction did before.
"""

from collections.abc import Sequence
from datetime import datetime

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection, name_queries
from domain.models.audit import (
    GENESIS,
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditRecord,
    chain_hash,
    change_digest,
)
from domain.ports.audit import AuditLog

# Spells "AUDITLOG". Quote ingests take their own lock first, and never this one before theirs.
_APPEND_LOCK = 0x41554449544C4F47
_LOCK = "SELECT pg_advisory_xact_lock(%s)"
# A new statement after the lock: in READ COMMITTED it sees the previous appender's committed row.
_HEAD = "SELECT (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), now()"
_INSERT = """
INSERT INTO audit_log (at, actor, action, target, request_id, digest, prev_hash, hash)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""
_COLUMNS = "id, at, actor, action, target, request_id, digest, prev_hash, hash"
_WALK = f"SELECT {_COLUMNS} FROM audit_log WHERE id > %s ORDER BY id LIMIT %s"  # noqa: S608 - constant text
_NO_CURSOR = 2**63 - 1
name_queries({
    _LOCK: "audit.lock", _HEAD: "audit.head", _INSERT: "audit.insert", _WALK: "audit.walk",
})  # fmt: skip


async def append_audit(conn: AsyncConnection, entry: AuditEntry) -> None:
    """Append `entry` in `conn`'s open transaction, chained to the last committed entry.

    Call it last in the transaction (it holds the log's lock until the commit), and only in READ COMMITTED
    (a REPEATABLE READ snapshot would miss the last entry; the unique `prev_hash` then refuses the fork).
    """
    await append_audit_many(conn, (entry,))


async def append_audit_many(conn: AsyncConnection, entries: Sequence[AuditEntry]) -> None:
    """`append_audit` for several entries, chained in their order."""
    await conn.execute(_LOCK, (_APPEND_LOCK,), prepare=True)
    head = await (await conn.execute(_HEAD, prepare=True)).fetchone()
    prev: str = (head[0] if head else None) or GENESIS
    now: datetime = head[1] if head else datetime.now().astimezone()
    rows = []
    for entry in entries:
        at = entry.at or now
        digest = change_digest(entry.change)
        hashed = chain_hash(prev, at, entry.actor, entry.action, entry.target, entry.request_id, digest)
        rows.append((at, entry.actor, entry.action, entry.target, entry.request_id, digest, prev, hashed))
        prev = hashed
    if len(rows) == 1:
        await conn.execute(_INSERT, rows[0], prepare=True)
    else:
        async with conn.cursor() as cur:
            await cur.executemany(_INSERT, rows)


def _record(row: tuple[object, ...]) -> AuditRecord:
    keys = ("id", "at", "actor", "action", "target", "request_id", "digest", "prev_hash", "hash")
    return AuditRecord(**dict(zip(keys, row, strict=True)))  # type: ignore[arg-type]


def _page_query(query: AuditQuery) -> tuple[sql.Composed, list[object]]:
    """Only the filters given, so each combination gets a plan that uses its index."""
    where: list[sql.Composable] = [sql.SQL("id < %s")]
    params: list[object] = []
    for column in ("actor", "action"):
        if (value := getattr(query, column)) is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if query.target is not None:
        # The target itself and those under it (`user:42/...`): '0' follows '/' in the column's C collation.
        where.append(sql.SQL("(target = %s OR (target > %s AND target < %s))"))
        params += [query.target, f"{query.target}/", f"{query.target}0"]
    if query.since is not None:
        where.append(sql.SQL("at >= %s"))
        params.append(query.since)
    statement = sql.SQL("SELECT {} FROM audit_log WHERE {} ORDER BY id DESC LIMIT %s").format(
        sql.SQL(_COLUMNS), sql.SQL(" AND ").join(where)
    )
    return statement, params


class PostgresAuditLog(AuditLog):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        async with connection(self._pool, write=True) as conn, conn.transaction():
            await append_audit_many(conn, entries)

    async def page(self, query: AuditQuery, *, limit: int, before: int | None) -> AuditPage:
        statement, params = _page_query(query)
        async with connection(self._pool) as conn:
            cur = await conn.execute(statement, [before or _NO_CURSOR, *params, limit + 1])
            rows = await cur.fetchall()
        items = tuple(_record(row) for row in rows[:limit])
        return AuditPage(items=items, next_before=items[-1].id if len(rows) > limit else None)

    async def walk(self, *, after: int, limit: int) -> tuple[AuditRecord, ...]:
        async with connection(self._pool) as conn:
            cur = await conn.execute(_WALK, (after, limit), prepare=True)
            rows = await cur.fetchall()
        return tuple(_record(row) for row in rows)
