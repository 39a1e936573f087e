"""PostgreSQL corporate actions: record and list them, and the market day's run that applies them.

A run is one transaction: its (job, day) row first (a second delivery for the day stops there), then the
dividends due (each (dividend, user) row gets its ledger entry once, through `post_entries`), then the splits
and the dividends' holders of record whose ex-date has come. The payments go first because they lock users'
rows before their holdings, the order a trade takes them in. Each action (and each payment) is applied in a
savepoint of its own: one the columns cannot hold (a numeric overflow, a check violated) is rolled back alone,
marked failed with the database's reason and audited, and the run goes on; it never blocks a later run.
"""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.audit import append_audit
from domain.adapters.postgres.ledger import post_entries
from domain.adapters.postgres.market_day import claim_run
from domain.adapters.postgres.pool import connection, name_queries
from domain.adapters.postgres.quotes import INGEST_LOCK
from domain.errors import InvalidRequestError, UnknownSymbolError
from domain.models.audit import AuditEntry
from domain.models.corporate_actions import (
    CORPORATE_ACTION_FAIL,
    ActionRun,
    CorporateAction,
    CorporateActionDraft,
    check_ex_date,
    corporate_action_target,
    effective_before,
    failure_reason,
)
from domain.models.ledger import EntryDraft, Posting
from domain.models.market_day import CORPORATE_ACTION_JOB
from domain.ports.corporate_actions import CorporateActionStore

RUN_LOCK = 0x434F5250414354  # one run at a time: catch-up days delivered to two workers queue up here
_INSERT = """
INSERT INTO corporate_actions (kind, instrument_id, ratio_numerator, ratio_denominator, amount_per_share, ex_date,
                               pay_date)
SELECT %s, id, %s, %s, %s, %s, %s FROM instruments WHERE symbol = %s AND asset_class <> 'cash'
RETURNING id
"""
_IS_CURRENCY = "SELECT 1 FROM instruments WHERE symbol = %s AND asset_class = 'cash'"
_SELECT = """
SELECT a.id, a.kind, i.symbol, i.currency, a.ratio_numerator, a.ratio_denominator, a.amount_per_share, a.ex_date,
       a.pay_date, a.created_at, a.applied_at,
       (SELECT count(*) FROM dividend_payments p WHERE p.action_id = a.id AND p.entry_id IS NOT NULL),
       a.failed_at, a.failure
FROM corporate_actions a JOIN instruments i ON i.id = a.instrument_id
"""
_ONE = _SELECT + "WHERE a.id = %s"
_LIST = _SELECT + "ORDER BY a.id DESC LIMIT %s"
_LOCK_RUN = "SELECT pg_advisory_xact_lock(%s)"
_DUE_PAYMENTS = """
SELECT p.action_id, p.user_id, p.amount, i.currency
FROM dividend_payments p JOIN corporate_actions a ON a.id = p.action_id JOIN instruments i ON i.id = a.instrument_id
WHERE p.entry_id IS NULL AND a.pay_date <= %s AND a.failed_at IS NULL
ORDER BY p.user_id, p.action_id
"""
_LOCK_USERS = "SELECT id FROM users WHERE id = ANY(%s) AND erased_at IS NULL ORDER BY id FOR UPDATE"
_PAID = "UPDATE dividend_payments SET entry_id = %s WHERE action_id = %s AND user_id = %s"
_PENDING = """
SELECT id, kind, instrument_id, ratio_numerator, ratio_denominator FROM corporate_actions
WHERE applied_at IS NULL AND failed_at IS NULL AND ex_date <= %s ORDER BY ex_date, id
"""
_APPLIED = "UPDATE corporate_actions SET applied_at = now() WHERE id = %s"
_FAILED = "UPDATE corporate_actions SET failed_at = now(), failure = %s WHERE id = %s"
_LAST_RUN = "SELECT max(day) FROM job_runs WHERE job = %s"
# Rounded to the columns' 8 places; a close or price never rounds down to nothing (it must stay positive).
_SPLIT_HOLDINGS = """
UPDATE holdings SET quantity = round(quantity * %(num)s / %(den)s, 8),
                    average_cost = round(average_cost * %(den)s / %(num)s, 8), updated_at = now()
WHERE instrument_id = %(instrument)s RETURNING user_id
"""
_SPLIT_CLOSES = """
UPDATE daily_prices SET close = greatest(round(close * %(den)s / %(num)s, 8), 0.00000001)
WHERE instrument_id = %(instrument)s AND day < (SELECT ex_date FROM corporate_actions WHERE id = %(action)s)
"""
_SPLIT_QUOTE = """
UPDATE quotes SET price = greatest(round(price * %(den)s / %(num)s, 8), 0.00000001),
                  bid = greatest(round(bid * %(den)s / %(num)s, 8), 0.00000001),
                  ask = greatest(round(ask * %(den)s / %(num)s, 8), 0.00000001),
                  previous_close = greatest(round(previous_close * %(den)s / %(num)s, 8), 0.00000001),
                  day_high = round(day_high * %(den)s / %(num)s, 8),
                  day_low = round(day_low * %(den)s / %(num)s, 8)
WHERE instrument_id = %(instrument)s
"""
_RECORD_HOLDERS = """
INSERT INTO dividend_payments (action_id, user_id, quantity, amount)
SELECT a.id, h.user_id, h.quantity, round(h.quantity * a.amount_per_share, 8)
FROM corporate_actions a JOIN holdings h ON h.instrument_id = a.instrument_id
JOIN users u ON u.id = h.user_id AND u.erased_at IS NULL
WHERE a.id = %s AND round(h.quantity * a.amount_per_share, 8) > 0
ON CONFLICT (action_id, user_id) DO NOTHING
"""
_PUBLISH = "INSERT INTO quote_versions (quotes) VALUES (%s) RETURNING version"
_OUTCOME = "UPDATE job_runs SET outcome = %s WHERE job = %s AND day = %s"
name_queries({
    _INSERT: "corporate_actions.insert", _IS_CURRENCY: "corporate_actions.is_currency",
    _ONE: "corporate_actions.one", _LIST: "corporate_actions.list",
    _DUE_PAYMENTS: "corporate_actions.due_payments", _LOCK_USERS: "corporate_actions.lock_users",
    _PAID: "corporate_actions.paid", _PENDING: "corporate_actions.pending", _APPLIED: "corporate_actions.applied",
    _FAILED: "corporate_actions.failed", _LAST_RUN: "corporate_actions.last_run",
    _SPLIT_HOLDINGS: "corporate_actions.split_holdings", _SPLIT_CLOSES: "corporate_actions.split_closes",
    _SPLIT_QUOTE: "corporate_actions.split_quote", _RECORD_HOLDERS: "corporate_actions.record_holders",
})  # fmt: skip

_Row = tuple[
    int,
    str,
    str,
    str,
    int | None,
    int | None,
    Decimal | None,
    date,
    date | None,
    object,
    object,
    int,
    object,
    str | None,
]


def _action(row: _Row) -> CorporateAction:
    (
        aid,
        kind,
        symbol,
        currency,
        num,
        den,
        per_share,
        ex_date,
        pay_date,
        created_at,
        applied_at,
        paid,
        failed_at,
        why,
    ) = row
    return CorporateAction(
        id=aid,
        kind="split" if kind == "split" else "dividend",
        symbol=symbol,
        currency=currency.strip(),
        ex_date=ex_date,
        created_at=created_at,  # type: ignore[arg-type]
        ratio=Fraction(num, den) if num and den else None,
        amount_per_share=per_share,
        pay_date=pay_date,
        applied_at=applied_at,  # type: ignore[arg-type]
        paid=int(paid),
        failed_at=failed_at,  # type: ignore[arg-type]
        failure=why,
    )


class PostgresCorporateActionStore(CorporateActionStore):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def record(self, draft: CorporateActionDraft, *, audit: AuditEntry) -> CorporateAction:
        ratio = draft.ratio
        params = (
            draft.kind,
            None if ratio is None else ratio.numerator,
            None if ratio is None else ratio.denominator,
            draft.amount_per_share,
            draft.ex_date,
            draft.pay_date,
            draft.symbol,
        )
        async with connection(self._pool, write=True) as conn, conn.transaction():
            last = await (await conn.execute(_LAST_RUN, (CORPORATE_ACTION_JOB,), prepare=True)).fetchone()
            check_ex_date(draft.ex_date, last[0] if last else None)
            row = await (await conn.execute(_INSERT, params, prepare=True)).fetchone()
            if row is None:
                if await (await conn.execute(_IS_CURRENCY, (draft.symbol,), prepare=True)).fetchone():
                    raise InvalidRequestError(
                        f"{draft.symbol} is a currency's quote: it has no corporate actions", field="symbol"
                    )
                raise UnknownSymbolError(draft.symbol)
            action = _action(await (await conn.execute(_ONE, (row[0],), prepare=True)).fetchone())  # type: ignore[arg-type]
            await append_audit(conn, audit.completed(target=corporate_action_target(action.id)))
        return action

    async def list(self, *, limit: int) -> tuple[CorporateAction, ...]:
        async with connection(self._pool) as conn:
            rows = await (await conn.execute(_LIST, (limit,), prepare=True)).fetchall()
        return tuple(_action(r) for r in rows)

    async def run(self, day: date, *, audit: AuditEntry) -> ActionRun | None:
        async with connection(self._pool, write=True) as conn, conn.transaction():
            if not await claim_run(conn, CORPORATE_ACTION_JOB, day):
                return None
            await conn.execute(_LOCK_RUN, (RUN_LOCK,), prepare=True)
            failures = _Failures(conn, audit)
            paid = await _pay_due(conn, day, failures)
            split_users, splits, recorded, quoted = await _apply_pending(conn, effective_before(day), failures)
            version = await _publish(conn, splits) if quoted else None
            users = tuple(sorted(set(paid) | set(split_users)))
            outcome = splits + recorded + len(paid)
            await conn.execute(_OUTCOME, (outcome, CORPORATE_ACTION_JOB, day), prepare=True)
            audit = audit.completed(
                splits=splits, holders_recorded=recorded, payments=len(paid), failed=failures.count, version=version
            )
            await append_audit(conn, audit)
        return ActionRun(
            splits=splits, holders_recorded=recorded, payments=len(paid), users=users, version=version,
            failed=failures.count,
        )  # fmt: skip


# What makes one action impossible to apply (its savepoint rolled back); anything else (a lost connection)
# fails the whole run, which the job retries.
_DATA_ERRORS = (psycopg.DataError, psycopg.IntegrityError)


class _Failures:
    """Marks actions failed, with the reason and an audit entry, in the run's transaction."""

    def __init__(self, conn: AsyncConnection, run: AuditEntry) -> None:
        self._conn = conn
        self._run = run
        self.count = 0

    async def mark(self, action_id: int, error: psycopg.Error) -> None:
        reason = failure_reason(error.diag.message_primary or str(error))
        await self._conn.execute(_FAILED, (reason, action_id), prepare=True)
        entry = AuditEntry(
            actor=self._run.actor, action=CORPORATE_ACTION_FAIL, target=corporate_action_target(action_id),
            request_id=self._run.request_id, change={"reason": reason},
        )  # fmt: skip
        await append_audit(self._conn, entry)
        self.count += 1


async def _pay_due(conn: AsyncConnection, day: date, failures: _Failures) -> list[int]:
    """Book each due, unpaid (dividend, user): a credit to the user's cash from the market. The users paid.
    A payment that cannot be booked marks its dividend failed: its other holders wait, unpaid."""
    due = await (await conn.execute(_DUE_PAYMENTS, (day,), prepare=True)).fetchall()
    if not due:
        return []
    live = {r[0] for r in await (await conn.execute(_LOCK_USERS, ([r[1] for r in due],), prepare=True)).fetchall()}
    paid, failed = [], set()
    for action_id, user_id, amount, code in due:
        if user_id not in live or action_id in failed:
            continue  # erased since the ex-date: its row waits, unpaid
        currency = code.strip()
        credit = (Posting(account="cash", currency=currency, amount=amount),)
        draft = EntryDraft(
            kind="dividend", postings=(*credit, Posting(account="market", currency=currency, amount=-amount))
        )
        try:
            async with conn.transaction():
                entries, _ = await post_entries(conn, user_id, [draft])
                await conn.execute(_PAID, (entries[0].id, action_id, user_id), prepare=True)
        except _DATA_ERRORS as e:
            await failures.mark(action_id, e)
            failed.add(action_id)
            continue
        paid.append(user_id)
    return paid


async def _apply_pending(conn: AsyncConnection, through: date, failures: _Failures) -> tuple[list[int], int, int, int]:
    """Apply the splits and record the dividends' holders whose ex-date is `through` or earlier, oldest first.
    The users whose holdings changed, the splits applied, the holders recorded, the quotes changed."""
    pending = await (await conn.execute(_PENDING, (through,), prepare=True)).fetchall()
    users: list[int] = []
    splits = recorded = quoted = 0
    if any(kind == "split" for _, kind, *_ in pending):
        await conn.execute(_LOCK_RUN, (INGEST_LOCK,), prepare=True)  # no quote ingest mid-split
    for action_id, kind, instrument, num, den in pending:
        try:
            async with conn.transaction():
                if kind == "split":
                    params = {"num": num, "den": den, "instrument": instrument, "action": action_id}
                    cur = await conn.execute(_SPLIT_HOLDINGS, params, prepare=True)
                    held = [r[0] for r in await cur.fetchall()]
                    await conn.execute(_SPLIT_CLOSES, params, prepare=True)
                    changed = (await conn.execute(_SPLIT_QUOTE, params, prepare=True)).rowcount
                else:
                    count = (await conn.execute(_RECORD_HOLDERS, (action_id,), prepare=True)).rowcount
                await conn.execute(_APPLIED, (action_id,), prepare=True)
        except _DATA_ERRORS as e:
            await failures.mark(action_id, e)
            continue
        if kind == "split":
            users.extend(held)
            splits, quoted = splits + 1, quoted + changed
        else:
            recorded += count
    return users, splits, recorded, quoted


async def _publish(conn: AsyncConnection, splits: int) -> int:
    row = await (await conn.execute(_PUBLISH, (splits,), prepare=True)).fetchone()
    assert row is not None
    return int(row[0])
