"""The demo data loader against a real PostgreSQL: counts, shape, idempotence, determinism, size."""

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

import msgspec
import psycopg
import pytest

from cli.demo_data import (
    ASSET_CLASS_COUNTS,
    INSTRUMENT_COUNT,
    MAX_HOLDINGS,
    MIN_HOLDINGS,
    OPENING_AT,
    QUOTES_AS_OF,
    TRADING_DAYS,
    USER_COUNT,
    DemoDataResult,
    load_demo_data,
    trading_days,
)
from cli.demo_data.opening import OPENING_FLOAT
from domain.adapters.postgres.migrate import apply_migrations

pytestmark = pytest.mark.integration

CHECKSUMS = {
    "users": "SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM users t",
    "instruments": "SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM instruments t",
    "quotes": "SELECT md5(string_agg(t::text, '|' ORDER BY instrument_id)) FROM quotes t",
    "holdings": "SELECT md5(string_agg(t::text, '|' ORDER BY user_id, instrument_id)) FROM holdings t",
    "cash_balances": "SELECT md5(string_agg(t::text, '|' ORDER BY user_id, currency)) FROM cash_balances t",
}
# Per user, the lots and the currencies kept as cash besides the float (USD above it, or another currency).
PICKS_PER_USER = """
SELECT min(n), max(n), count(*) FROM (
    SELECT user_id, count(*) AS n FROM (
        SELECT user_id FROM holdings
        UNION ALL
        SELECT user_id FROM cash_balances
        WHERE (currency = 'USD' AND balance > %s) OR (currency <> 'USD' AND balance > 0)
    ) picks GROUP BY user_id
) x
"""
CATALOG = """
SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid::regclass::text IN ('users', 'instruments', 'quotes', 'daily_prices', 'holdings')
UNION ALL
SELECT tablename::text, indexname::text, indexdef FROM pg_indexes WHERE schemaname = 'public'
ORDER BY 1, 2, 3
"""


@pytest.fixture(scope="module")
def pg_server(servers: Any) -> str:
    """The session's PostgreSQL; each test here works in databases of its own on it."""
    url: str = servers.database_url
    return url


def _fresh_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def _checksums(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return {name: str(conn.execute(query).fetchone()[0]) for name, query in CHECKSUMS.items()}  # type: ignore[index]


def _catalog(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(CATALOG).fetchall()


@pytest.fixture(scope="module")
def loaded(pg_server: Any) -> tuple[str, DemoDataResult, list[tuple[Any, ...]]]:
    url = _fresh_database(pg_server, "demo_a")
    assert apply_migrations(url) >= 1
    assert apply_migrations(url) == 0
    catalog_before = _catalog(url)
    started = time.perf_counter()
    result = load_demo_data(url)
    print(f"\ndemo data load: {time.perf_counter() - started:.2f}s -> {result}")
    return url, result, catalog_before


def test_load_reports_what_it_loaded(loaded: tuple[str, DemoDataResult, list[tuple[Any, ...]]]) -> None:
    _url, result, _catalog_before = loaded
    assert result.loaded
    assert (result.users, result.instruments, result.quotes) == (USER_COUNT, INSTRUMENT_COUNT, INSTRUMENT_COUNT)
    assert result.daily_prices == INSTRUMENT_COUNT * TRADING_DAYS
    # A user's picks are 5 to 30 positions, of which up to two are currencies: those are cash, not lots.
    assert USER_COUNT * (MIN_HOLDINGS - 2) <= result.holdings <= USER_COUNT * MAX_HOLDINGS


def test_counts_and_shape(loaded: tuple[str, DemoDataResult, list[tuple[Any, ...]]]) -> None:
    url, result, _catalog_before = loaded
    with psycopg.connect(url) as conn:

        def one(query: str) -> Any:
            row = conn.execute(query).fetchone()
            assert row is not None
            return row[0] if len(row) == 1 else row

        assert one("SELECT count(*) FROM users") == USER_COUNT
        assert one("SELECT min(id), max(id) FROM users") == (1, USER_COUNT)
        assert one("SELECT count(*) FROM users WHERE email <> 'user' || id || '@example.com'") == 0
        assert one("SELECT count(*) FROM users WHERE external_id IS DISTINCT FROM 'demo-user-' || id") == 0
        assert one("SELECT count(*) FROM users WHERE base_currency <> 'USD' OR erased_at IS NOT NULL") == 0
        assert one("SELECT nextval('users_id_seq')") == USER_COUNT + 1  # users created later come after them
        assert one("SELECT count(*) FROM instruments") == INSTRUMENT_COUNT
        by_class = dict(conn.execute("SELECT asset_class, count(*) FROM instruments GROUP BY 1").fetchall())
        assert by_class == ASSET_CLASS_COUNTS
        assert one("SELECT count(DISTINCT currency) FROM instruments") >= 5
        assert one("SELECT count(DISTINCT exchange) FROM instruments") >= 5
        assert one("SELECT count(*) FROM quotes") == INSTRUMENT_COUNT
        assert one("SELECT count(*) FROM daily_prices") == INSTRUMENT_COUNT * TRADING_DAYS
        per_instrument = (
            "SELECT min(n), max(n), count(*) FROM (SELECT count(*) n FROM daily_prices GROUP BY instrument_id) x"
        )
        assert one(per_instrument) == (TRADING_DAYS, TRADING_DAYS, INSTRUMENT_COUNT)
        days = [row[0] for row in conn.execute("SELECT DISTINCT day FROM daily_prices ORDER BY 1")]
        assert days == trading_days()
        assert all(day.weekday() < 5 for day in days)
        per_user = conn.execute(PICKS_PER_USER, (OPENING_FLOAT,)).fetchone()
        assert per_user is not None
        assert per_user[0] >= MIN_HOLDINGS
        assert per_user[1] <= MAX_HOLDINGS
        assert per_user[2] == USER_COUNT
        assert one("SELECT count(*) FROM holdings h JOIN instruments i ON i.id = h.instrument_id"
                   " WHERE i.asset_class = 'cash'") == 0  # fmt: skip
        assert one("SELECT count(*) FROM holdings") == result.holdings
        assert one("SELECT count(*) FROM holdings WHERE quantity <= 0 OR average_cost <= 0") == 0
        # Popular instruments are shared by many users.
        assert one("SELECT max(n) FROM (SELECT count(*) n FROM holdings GROUP BY instrument_id) x") > USER_COUNT // 20
        assert one("SELECT quotes FROM quote_versions") == INSTRUMENT_COUNT


def test_quotes_are_consistent_with_closes(loaded: tuple[str, DemoDataResult, list[tuple[Any, ...]]]) -> None:
    url, _result, _catalog_before = loaded
    with psycopg.connect(url) as conn:
        inconsistent = conn.execute(
            """
            SELECT count(*) FROM quotes q
            JOIN LATERAL (SELECT array_agg(close ORDER BY day DESC) c FROM
                          (SELECT close, day FROM daily_prices d WHERE d.instrument_id = q.instrument_id
                           ORDER BY day DESC LIMIT 2) last2) d ON true
            WHERE q.price <> d.c[1] OR q.previous_close <> d.c[2]
               OR NOT (q.day_low <= q.price AND q.price <= q.day_high AND q.day_low > 0)
               OR NOT (q.bid <= q.price AND q.price <= q.ask)
            """
        ).fetchone()
        assert inconsistent == (0,)
        crossed = conn.execute(
            "SELECT i.symbol FROM quotes q JOIN instruments i ON i.id = q.instrument_id WHERE q.bid >= q.ask"
        ).fetchall()
        assert crossed == [("CASH-USD",)]  # the only instrument with no spread
        cash = conn.execute(
            "SELECT i.symbol, i.currency, q.price FROM instruments i JOIN quotes q ON q.instrument_id = i.id"
            " WHERE i.asset_class = 'cash' ORDER BY i.symbol"
        ).fetchall()
        assert {currency for _symbol, currency, _price in cash} == {"USD"}
        assert ("CASH-USD", "USD", Decimal(1)) in cash
        assert {"CASH-EUR", "CASH-GBP", "CASH-JPY"} <= {symbol for symbol, _c, _p in cash}
        assert conn.execute(
            "SELECT count(DISTINCT close) FROM daily_prices d JOIN instruments i ON i.id = d.instrument_id"
            " WHERE i.symbol = 'CASH-USD'"
        ).fetchone() == (1,)


def test_constraints_and_indexes_survive_the_load(
    loaded: tuple[str, DemoDataResult, list[tuple[Any, ...]]],
) -> None:
    url, _result, catalog_before = loaded
    assert _catalog(url) == catalog_before


def test_second_run_changes_nothing(loaded: tuple[str, DemoDataResult, list[tuple[Any, ...]]]) -> None:
    url, _result, _catalog_before = loaded
    before = _checksums(url)
    again = load_demo_data(url)
    assert not again.loaded
    assert again.reason
    assert _checksums(url) == before
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM quote_versions").fetchone() == (1,)


def test_same_seed_same_rows_even_when_two_loads_race(
    pg_server: Any,
    loaded: tuple[str, DemoDataResult, list[tuple[Any, ...]]],
) -> None:
    url_a, _result, _catalog_before = loaded
    url_b = _fresh_database(pg_server, "demo_b")
    apply_migrations(url_b)
    results: list[DemoDataResult] = []
    threads = [threading.Thread(target=lambda: results.append(load_demo_data(url_b))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result.loaded for result in results) == [False, True]
    assert _checksums(url_b) == _checksums(url_a)


def _quote_document(url: str, *, normalize: bool) -> bytes:
    """The 5,000 latest quotes as the API would render them (Decimal as JSON strings)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT i.symbol, i.name, i.asset_class, i.currency, i.exchange, q.price, q.bid, q.ask,"
            " q.previous_close, q.day_high, q.day_low, q.volume, q.as_of"
            " FROM quotes q JOIN instruments i ON i.id = q.instrument_id ORDER BY i.symbol"
        ).fetchall()

    def num(value: Decimal) -> Decimal:
        return value.normalize() if normalize else value

    quotes = []
    for symbol, name, asset_class, currency, exchange, price, bid, ask, prev, high, low, volume, as_of in rows:
        change = price - prev
        quotes.append(
            {
                "symbol": symbol,
                "name": name,
                "asset_class": asset_class,
                "currency": currency.strip(),
                "exchange": exchange,
                "price": num(price),
                "bid": num(bid),
                "ask": num(ask),
                "previous_close": num(prev),
                "change": num(change),
                "change_pct": (change / prev * 100).quantize(Decimal("0.0001")),
                "day_high": num(high),
                "day_low": num(low),
                "volume": volume,
                "as_of": as_of,
            }
        )
    return msgspec.json.encode({"quotes": quotes})


def test_quote_document_is_about_two_megabytes(loaded: tuple[str, DemoDataResult, list[tuple[Any, ...]]]) -> None:
    url, _result, _catalog_before = loaded
    as_stored = len(_quote_document(url, normalize=False))
    normalized = len(_quote_document(url, normalize=True))
    print(f"\nquote document: {as_stored / 1e6:.2f} MB with numeric(20,8) text, {normalized / 1e6:.2f} MB normalized")
    assert 1_500_000 < normalized <= as_stored < 3_000_000


RECONCILE = """
SELECT count(*) FROM (
    SELECT coalesce(b.user_id, p.user_id), coalesce(b.currency, p.currency)
    FROM cash_balances b
    FULL JOIN (SELECT e.user_id, p.currency, sum(p.amount) AS total FROM ledger_postings p
               JOIN ledger_entries e ON e.id = p.entry_id WHERE p.account = 'cash' GROUP BY 1, 2) p
      ON p.user_id = b.user_id AND p.currency = b.currency
    WHERE b.balance IS DISTINCT FROM p.total
) off
"""
# Per user and currency: the deposits paid for the holdings' cost and the float, and what is left is the float.
PAID_FOR = """
SELECT count(*) FROM (
    SELECT e.user_id, p.currency, sum(p.amount) FILTER (WHERE e.kind = 'trade') AS settled
    FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id AND p.account = 'cash'
    GROUP BY 1, 2
) s
LEFT JOIN (SELECT h.user_id, i.currency, sum(round(h.quantity * h.average_cost, 8)) AS cost
           FROM holdings h JOIN instruments i ON i.id = h.instrument_id GROUP BY 1, 2) c
  ON c.user_id = s.user_id AND c.currency = s.currency
WHERE coalesce(-s.settled, 0) <> coalesce(c.cost, 0)
"""


def test_every_demo_ledger_reconciles(loaded: tuple[str, DemoDataResult, list[tuple[Any, ...]]]) -> None:
    """Opening deposits paid for each user's holdings; the cash left is the float, and it is the postings' sum."""
    url, _result, _catalog_before = loaded
    with psycopg.connect(url) as conn:
        assert conn.execute(RECONCILE).fetchone() == (0,)
        assert conn.execute(PAID_FOR).fetchone() == (0,)
        usd = conn.execute("SELECT min(balance), count(*) FROM cash_balances WHERE currency = 'USD'").fetchone()
        assert usd == (OPENING_FLOAT, USER_COUNT)  # the float, and for most users their dollars besides
        kept = dict(conn.execute("SELECT currency, count(*) FROM cash_balances WHERE balance > 0 GROUP BY 1"))
        assert kept["USD"] == USER_COUNT
        assert {"EUR", "GBP", "JPY"} <= set(kept)  # the other currency picks are cash in that currency


UNBALANCED = """
SELECT count(*) FROM (
    SELECT p.entry_id, p.currency FROM ledger_postings p GROUP BY 1, 2 HAVING sum(p.amount) <> 0
) off
"""
MISDATED = """
SELECT count(*) FROM ledger_entries e JOIN users u ON u.id = e.user_id
WHERE e.booked_at <> greatest(%s, u.created_at)
"""


def test_every_demo_user_opens_on_the_first_close_or_when_created(
    loaded: tuple[str, DemoDataResult, list[tuple[Any, ...]]],
) -> None:
    """Each entry balances per currency, and a user's history starts at the calendar's start, not its end."""
    url, _result, _catalog_before = loaded
    with psycopg.connect(url) as conn:
        assert conn.execute(UNBALANCED).fetchone() == (0,)
        assert conn.execute(MISDATED, (OPENING_AT,)).fetchone() == (0,)
        first, last = conn.execute("SELECT min(booked_at), max(booked_at) FROM ledger_entries").fetchone()  # type: ignore[misc]
        assert first == OPENING_AT == dt.datetime.combine(trading_days()[0], dt.time(20), tzinfo=dt.UTC)
        assert last < QUOTES_AS_OF  # users created in the last year open on their creation day
