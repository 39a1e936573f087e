"""PostgreSQL audit log: `append_audit` chains entries inside the caller's transaction; the log pages and walks them.

An append is one statement, `audit_append` (migration 0004): it takes a transaction-level advisory lock, held to
the commit, reads the last hash and inserts the entry with its hash. The next appender reads the last hash only
once this one has committed, so the chain follows the commit order; the lock is held from the append to the
commit, whatever the transaction did before it.
"""

from collections.abc import Sequence

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.pool import connection, name_queries
from domain.models.audit import AuditEntry, AuditPage, AuditQuery, AuditRecord, change_digest
from domain.ports.audit import AuditLog

_APPEND = "SELECT audit_append(%s, %s, %s, %s, %s, %s)"
_COLUMNS = "id, at, actor, action, target, request_id, digest, prev_hash, hash"
_WALK = f"SELECT {_COLUMNS} FROM audit_log WHERE id > %s ORDER BY id LIMIT %s"  # noqa: S608 - constant text
_NO_CURSOR = 2**63 - 1
name_queries({_APPEND: "audit.append", _WALK: "audit.walk"})


def _params(entry: AuditEntry) -> tuple[object, ...]:
    return (entry.at, entry.actor, entry.action, entry.target, entry.request_id, change_digest(entry.change))


async def append_audit(conn: AsyncConnection, entry: AuditEntry) -> None:
    """Append `entry` in `conn`'s open transaction, chained to the last committed entry.

    Call it last in the transaction (the log's lock is held until the commit), and only in READ COMMITTED
    (a REPEATABLE READ snapshot would miss the last entry; the unique `prev_hash` then refuses the fork).
    """
    await conn.execute(_APPEND, _params(entry), prepare=True)


async def append_audit_many(conn: AsyncConnection, entries: Sequence[AuditEntry]) -> None:
    """`append_audit` for several entries, chained in their order (sent together, in a pipeline)."""
    async with conn.cursor() as cur:
        await cur.executemany(_APPEND, [_params(entry) for entry in entries])


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
