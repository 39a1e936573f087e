"""PostgreSQL trade imports: every row through the per-trade path, in one transaction, or none of them."""

from collections.abc import Sequence

from psycopg import AsyncConnection, Rollback
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.trade_booking import book_trade, lock_user
from domain.errors import InvalidRequestError
from domain.models.audit import AuditEntry, user_target
from domain.models.ledger import CASH, Settlement
from domain.models.trade_imports import BookedRow, ImportOutcome, ImportRow, RowError

_KNOWN = """
SELECT fingerprint FROM trade_import_rows WHERE user_id = %s AND fingerprint = ANY(%s::text[])
"""
_RECORD = """
INSERT INTO trade_import_rows (user_id, fingerprint, trade_id)
SELECT %s, f, t FROM unnest(%s::text[], %s::bigint[]) AS u (f, t)
"""
name_queries({_KNOWN: "trade_imports.known", _RECORD: "trade_imports.record"})


async def import_rows(
    pool: AsyncConnectionPool,
    user_id: int,
    rows: Sequence[ImportRow],
    *,
    dry_run: bool,
    audit: AuditEntry,
    settlement: Settlement = CASH,
    deadline_s: float | None = None,
) -> ImportOutcome:
    async with connection(pool, write=True, deadline_s=deadline_s) as conn, conn.transaction():
        # The user's lock also serialises two imports of one file: the second sees the first's fingerprints.
        await lock_user(conn, user_id)
        outcome = await _book_all(conn, user_id, rows, settlement)
        if outcome.errors or dry_run:
            raise Rollback  # leaves the transaction block, undone
        if outcome.booked:
            fingerprints = {r.row: r.fingerprint for r in rows}
            booked = [(fingerprints[b.row], b.result.trade.id) for b in outcome.booked]
            await conn.execute(_RECORD, (user_id, [f for f, _ in booked], [t for _, t in booked]))
            await append_audit(
                conn,
                audit.completed(
                    target=user_target(user_id), booked=len(outcome.booked), duplicates=len(outcome.duplicates)
                ),
            )
    return outcome


async def _book_all(
    conn: AsyncConnection, user_id: int, rows: Sequence[ImportRow], settlement: Settlement
) -> ImportOutcome:
    cur = await conn.execute(_KNOWN, (user_id, [r.fingerprint for r in rows]))
    known = {fingerprint for (fingerprint,) in await cur.fetchall()}
    booked: list[BookedRow] = []
    duplicates: list[int] = []
    errors: list[RowError] = []
    for row in rows:
        if row.fingerprint in known:
            duplicates.append(row.row)
            continue
        try:
            # Each row in a savepoint: a row refused after it wrote (its cash falls short) is undone alone, and
            # the rows after it are still checked against what the rows before it booked, for the report.
            async with conn.transaction():
                result = await book_trade(conn, user_id, row.order, executed_at=row.executed_at, settlement=settlement)
        except InvalidRequestError as e:
            errors.append(RowError(row=row.row, field=e.field or "row", message=e.detail))
            continue
        booked.append(BookedRow(row=row.row, result=result))
    return ImportOutcome(booked=tuple(booked), duplicates=tuple(duplicates), errors=tuple(errors))
