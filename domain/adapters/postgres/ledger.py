"""PostgreSQL ledger: entries and postings, and the cash balances they move, in the caller's transaction.

`post_entries` is the one path by which cash moves: the ledger's own bookings and a trade's settlement
(the trade store calls it inside the trade's transaction) both go through it. It locks the user's balance
rows, checks the result (no negative cash), inserts the entries and their postings and stores the balances;
the database checks at the commit that each entry balances (migration 0006).
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.webhook_outbox import append_event
from domain.errors import IdempotencyKeyReusedError, UserErasedError, UserNotFoundError
from domain.models.audit import AuditEntry, entry_target
from domain.models.ledger import Balance, BookResult, Entry, EntryDraft, FxRates, LedgerPage, Posting, apply_cash
from domain.ports.ledger import Ledger

_LOCK_USER = "SELECT erased_at FROM users WHERE id = %s FOR UPDATE"
_USER = "SELECT erased_at FROM users WHERE id = %s"
_LOCK_BALANCES = "SELECT currency, balance FROM cash_balances WHERE user_id = %s ORDER BY currency FOR UPDATE"
_BALANCES = "SELECT currency, balance FROM cash_balances WHERE user_id = %s ORDER BY currency"
# An entry, its postings and the cash balances they leave, in one statement.
_POST = """
WITH entry AS (
    INSERT INTO ledger_entries (user_id, kind, trade_id, idempotency_key)
    VALUES (%(user)s, %(kind)s, %(trade)s, %(key)s)
    RETURNING id, booked_at
), postings AS (
    INSERT INTO ledger_postings (entry_id, line, account, currency, amount)
    SELECT entry.id, p.line - 1, p.account, p.currency, p.amount
    FROM entry, unnest(%(accounts)s::text[], %(currencies)s::text[], %(amounts)s::numeric[])
         WITH ORDINALITY AS p (account, currency, amount, line)
), balances AS (
    INSERT INTO cash_balances (user_id, currency, balance)
    SELECT %(user)s, b.currency, b.balance FROM unnest(%(balance_currencies)s::text[], %(balances)s::numeric[])
         AS b (currency, balance)
    ON CONFLICT (user_id, currency) DO UPDATE SET balance = EXCLUDED.balance, updated_at = now()
)
SELECT id, booked_at FROM entry
"""
_BY_KEY = "SELECT id, kind, trade_id, booked_at FROM ledger_entries WHERE user_id = %s AND idempotency_key = %s"
_PAGE = """
SELECT e.id, e.kind, e.trade_id, e.booked_at FROM ledger_entries e
WHERE e.user_id = %(user)s AND e.id < %(before)s AND e.booked_at >= %(since)s
  AND (%(currency)s::text IS NULL
       OR EXISTS (SELECT 1 FROM ledger_postings p WHERE p.entry_id = e.id AND p.currency = %(currency)s))
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = %(user)s AND u.erased_at IS NOT NULL)
ORDER BY e.id DESC
LIMIT %(limit)s
"""
_POSTINGS = """
SELECT entry_id, account, currency, amount FROM ledger_postings WHERE entry_id = ANY(%s) ORDER BY entry_id, line
"""
_NO_CURSOR = 2**63 - 1
_EPOCH = datetime.fromisoformat("0001-01-01T00:00:00+00:00")
name_queries({
    _LOCK_USER: "ledger.lock_user", _USER: "ledger.user", _LOCK_BALANCES: "ledger.lock_balances",
    _BALANCES: "ledger.balances", _POST: "ledger.post", _BY_KEY: "ledger.by_key", _PAGE: "ledger.page",
    _POSTINGS: "ledger.postings",
})  # fmt: skip


async def post_entries(
    conn: AsyncConnection,
    user_id: int,
    drafts: Sequence[EntryDraft],
    *,
    fx: FxRates | None = None,
    trade_id: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[tuple[Entry, ...], tuple[Balance, ...]]:
    """Book `drafts` in `conn`'s open transaction (the caller holds the user's row lock): an fx conversion
    first where `fx` is given and cash falls short; the entries booked and every balance after them.

    Raises InsufficientCashError naming `amount` when a balance would go below zero.
    """
    cur = await conn.execute(_LOCK_BALANCES, (user_id,), prepare=True)
    before = {currency.strip(): balance for currency, balance in await cur.fetchall()}
    booked, after = apply_cash(before, tuple(drafts), fx, trade_id)
    changed = [(c, v) for c, v in sorted(after.items()) if before.get(c) != v]
    stored = ([c for c, _ in changed], [v for _, v in changed])  # with the first entry: the balances after all
    entries = []
    for i, draft in enumerate(booked):
        postings = draft.postings
        params = {
            "user": user_id, "kind": draft.kind, "trade": draft.trade_id, "key": idempotency_key if i == 0 else None,
            "accounts": [p.account for p in postings], "currencies": [p.currency for p in postings],
            "amounts": [p.amount for p in postings], "balance_currencies": stored[0], "balances": stored[1],
        }  # fmt: skip
        stored = ([], [])
        cur = await conn.execute(_POST, params, prepare=True)
        entry_id, booked_at = await cur.fetchone() or (0, None)
        entries.append(_entry(entry_id, user_id, draft.kind, draft.trade_id, booked_at, draft.postings))
    return tuple(entries), tuple(Balance(currency=c, amount=v) for c, v in sorted(after.items()))


class PostgresLedger(Ledger):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def book(
        self, user_id: int, drafts: Sequence[EntryDraft], idempotency_key: str | None, *, audit: AuditEntry
    ) -> BookResult:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            _check_user(user_id, await (await conn.execute(_LOCK_USER, (user_id,), prepare=True)).fetchone())
            if idempotency_key is not None:
                first = await _first_with_key(conn, user_id, idempotency_key)
                if first is not None:
                    if first.postings != drafts[0].postings or first.kind != drafts[0].kind:
                        raise IdempotencyKeyReusedError()
                    balances = await _balances(conn, user_id)
                    return BookResult(entries=(first,), balances=balances, replayed=True)
            entries, balances = await post_entries(conn, user_id, drafts, idempotency_key=idempotency_key)
            ids = [e.id for e in entries]
            await append_event(conn, user_id, "cash.moved", {"entries": entries, "balances": balances})
            await append_audit(conn, audit.completed(target=entry_target(user_id, ids[0]), entry_ids=ids))
        return BookResult(entries=entries, balances=balances)

    async def entries(
        self, user_id: int, *, currency: str | None, since: datetime | None, limit: int, before: int | None
    ) -> LedgerPage:
        params = {"user": user_id, "before": before or _NO_CURSOR, "since": since or _EPOCH, "currency": currency}
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(_PAGE, {**params, "limit": limit + 1}, prepare=True)).fetchall()
            if not rows:
                _check_user(user_id, await (await conn.execute(_USER, (user_id,), prepare=True)).fetchone())
            more, rows = len(rows) > limit, rows[:limit]
            postings = await _postings(conn, [r[0] for r in rows])
        items = tuple(_entry(eid, user_id, kind, tid, at, postings.get(eid, ())) for eid, kind, tid, at in rows)
        return LedgerPage(items=items, next_before=items[-1].id if more else None)

    async def balances(self, user_id: int) -> tuple[Balance, ...]:
        async with connection(self._pool) as conn:
            _check_user(user_id, await (await conn.execute(_USER, (user_id,), prepare=True)).fetchone())
            return await _balances(conn, user_id)


def _check_user(user_id: int, row: tuple[object, ...] | None) -> None:
    if row is None:
        raise UserNotFoundError(user_id)
    if row[0] is not None:
        raise UserErasedError(user_id)


async def cash_of(conn: AsyncConnection, user_id: int) -> dict[str, Decimal]:
    """The user's cash per currency, as `conn` sees it."""
    return {b.currency: b.amount for b in await _balances(conn, user_id)}


async def _balances(conn: AsyncConnection, user_id: int) -> tuple[Balance, ...]:
    rows = await (await conn.execute(_BALANCES, (user_id,), prepare=True)).fetchall()
    return tuple(Balance(currency=c.strip(), amount=v) for c, v in rows)


async def _postings(conn: AsyncConnection, entry_ids: list[int]) -> dict[int, tuple[Posting, ...]]:
    found: dict[int, list[Posting]] = {}
    if entry_ids:
        for eid, account, currency, amount in await (await conn.execute(_POSTINGS, (entry_ids,))).fetchall():
            found.setdefault(eid, []).append(Posting(account=account, currency=currency.strip(), amount=amount))
    return {eid: tuple(p) for eid, p in found.items()}


async def _first_with_key(conn: AsyncConnection, user_id: int, key: str) -> Entry | None:
    row = await (await conn.execute(_BY_KEY, (user_id, key), prepare=True)).fetchone()
    if row is None:
        return None
    eid, kind, tid, at = row
    return _entry(eid, user_id, kind, tid, at, (await _postings(conn, [eid])).get(eid, ()))


def _entry(eid: int, user_id: int, kind: str, trade_id: int | None, at: datetime, postings: Sequence[Posting]) -> Entry:
    return Entry(
        id=eid,
        user_id=user_id,
        kind=kind,  # type: ignore[arg-type]  # the table's CHECK keeps it to the kinds
        trade_id=trade_id,
        booked_at=at,
        postings=tuple(postings),
    )
