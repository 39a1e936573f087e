"""Loading: one transaction of COPYs under an advisory lock, constraints deferred while it runs."""

import time
from collections.abc import Iterable, Sequence

import msgspec
import psycopg
from psycopg.copy import QueuedLibpqWriter

from cli.demo_data.instruments import _build_instruments
from cli.demo_data.opening import book_opening_cash
from cli.demo_data.rows import (
    _daily_price_blocks,
    _holding_blocks,
    _instrument_blocks,
    _quote_blocks,
    _user_blocks,
)
from cli.demo_data.shape import (
    _ADVISORY_LOCK_KEY,
    DEFAULT_SEED,
    OPENING_AT,
    QUOTES_AS_OF,
    TRADING_DAYS,
    USER_COUNT,
    DemoDataResult,
)

# --------------------------------------------------------------------------------------------
# Loading.


def _copy(cursor: psycopg.Cursor[tuple[object, ...]], statement: str, blocks: Iterable[str]) -> None:
    with cursor.copy(statement.encode(), writer=QueuedLibpqWriter(cursor)) as copy:
        for block in blocks:
            copy.write(block)


class _Deferred(msgspec.Struct, frozen=True):
    """A constraint or index dropped for the bulk load, with the DDL that re-creates it."""

    drop: str
    create: str


def _defer_constraints(cursor: psycopg.Cursor[tuple[object, ...]], tables: Sequence[str]) -> list[_Deferred]:
    """Drop the primary keys, secondary indexes and foreign keys of ``tables`` for the load.

    Building an index once from sorted data and checking references once per constraint is several
    times faster than maintaining them row by row. It all happens inside the load's transaction (which
    holds the tables' ACCESS EXCLUSIVE locks), so no one ever sees a table without its constraints.
    The definitions come from the catalog, so this follows the migrations without repeating them.
    """
    cursor.execute(
        "SELECT c.contype::text, c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid)"
        " FROM pg_constraint c WHERE c.contype IN ('p', 'f') AND c.conrelid = ANY (%s::regclass[])",
        (list(tables),),
    )
    constraints = sorted(
        (str(kind), str(table), str(name), str(definition)) for kind, table, name, definition in cursor.fetchall()
    )
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = ANY (%s::regclass[])"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)"
        " ORDER BY 1",
        (list(tables),),
    )
    indexes = [(str(name), str(definition)) for name, definition in cursor.fetchall()]
    deferred = [  # re-created in this order: primary keys, then indexes, then foreign keys
        *(
            _Deferred(f'ALTER TABLE "{t}" DROP CONSTRAINT "{n}"', f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}')
            for kind, t, n, d in constraints
            if kind == "p"
        ),
        *(_Deferred(f'DROP INDEX "{n}"', d) for n, d in indexes),
        *(
            _Deferred(f'ALTER TABLE "{t}" DROP CONSTRAINT "{n}"', f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}')
            for kind, t, n, d in constraints
            if kind == "f"
        ),
    ]
    for item in reversed(deferred):
        cursor.execute(item.drop.encode())
    return deferred


def _restore_constraints(cursor: psycopg.Cursor[tuple[object, ...]], deferred: Sequence[_Deferred]) -> None:
    for item in deferred:
        cursor.execute(item.create.encode())


def _skip_reason(cursor: psycopg.Cursor[tuple[object, ...]]) -> str:
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM users), EXISTS (SELECT 1 FROM instruments), EXISTS (SELECT 1 FROM holdings)"
    )
    row = cursor.fetchone()
    if row is None:  # pragma: no cover - a SELECT of three expressions returns one row
        return "unreadable"
    has_users, has_instruments, has_holdings = row
    if has_users:
        return "users already present"
    if has_instruments or has_holdings:
        return "instruments already present"
    return ""


def load_demo_data(database_url: str, *, seed: int = DEFAULT_SEED, base_currency: str = "USD") -> DemoDataResult:
    """Load the demo data set in one transaction, or skip if the database already has users.

    Two concurrent calls serialise on a transaction-level advisory lock; the second finds the first's
    users and skips. Any failure rolls the whole load back.
    """
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=False) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
        reason = _skip_reason(cursor)
        if reason:
            conn.rollback()
            return DemoDataResult(
                loaded=False, seed=seed, reason=reason, elapsed_s=round(time.perf_counter() - started, 3)
            )
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL statement_timeout = 0")  # a one-off load, not bound by the role's default (a pooler)
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        deferred = _defer_constraints(cursor, ("daily_prices", "quotes", "holdings"))
        instruments = _build_instruments(seed)
        closes: list[list[float]] = []
        currency_cash: list[tuple[int, str, str]] = []
        _copy(cursor, "COPY users (id, email, name, created_at, external_id) FROM STDIN", _user_blocks(seed))
        # Users created through the API take ids from the sequence: past the demo users'.
        cursor.execute("SELECT setval('users_id_seq', (SELECT max(id) FROM users))")
        _copy(
            cursor,
            "COPY instruments (id, symbol, name, asset_class, currency, exchange) FROM STDIN",
            _instrument_blocks(instruments),
        )
        _copy(
            cursor,
            "COPY daily_prices (instrument_id, day, close) FROM STDIN",
            _daily_price_blocks(seed, instruments, closes),
        )
        _copy(
            cursor,
            "COPY quotes (instrument_id, price, bid, ask, previous_close, day_high, day_low, volume, as_of) FROM STDIN",
            _quote_blocks(seed, instruments, closes),
        )
        _copy(
            cursor,
            "COPY holdings (user_id, instrument_id, quantity, average_cost, realized_pnl, updated_at) FROM STDIN",
            _holding_blocks(seed, instruments, closes, currency_cash),
        )
        _restore_constraints(cursor, deferred)
        book_opening_cash(cursor, base_currency, currency_cash, opened=OPENING_AT)
        cursor.execute(
            "INSERT INTO quote_versions (quotes, published_at) VALUES (%s, %s)", (len(instruments), QUOTES_AS_OF)
        )
        cursor.execute("SELECT count(*) FROM holdings")
        holdings_row = cursor.fetchone()
        holdings = int(str(holdings_row[0])) if holdings_row else 0
        conn.commit()
    return DemoDataResult(
        loaded=True,
        seed=seed,
        users=USER_COUNT,
        instruments=len(instruments),
        quotes=len(instruments),
        daily_prices=len(instruments) * TRADING_DAYS,
        holdings=holdings,
        elapsed_s=round(time.perf_counter() - started, 3),
    )
