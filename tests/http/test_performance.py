"""Performance through the API: a user's deposits and trades over past days, valued at the test's own closes."""

import json
import math
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg
import pytest

from domain.adapters.postgres.trade_booking import book_trade, lock_user
from domain.analytics.performance import performance
from domain.models.performance import DailyValue, ExternalFlow
from domain.models.trades import Order

pytestmark = [pytest.mark.http, pytest.mark.integration]
TODAY = datetime.now(UTC).date()
DAYS = [TODAY - timedelta(days=6 - i) for i in range(6)]  # six past days, oldest first
CLOSES = ["10", "11", "12", "11", "13", "14"]
# 1000 in and 50 shares at 10 on day 0; 200 in on day 2; 10 shares sold at 11 on day 3; 100 out on day 4.
EXPECTED = ["1000", "1050", "1300", "1250", "1230", "1270"]


def noon(d: date) -> datetime:
    return datetime.combine(d, time(12), tzinfo=UTC)


def dec(response):
    return json.loads(response.content, parse_float=Decimal)


def close_to(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, abs_tol=1e-12))


async def own_instrument(settings) -> str:
    symbol = f"PERF{uuid.uuid4().hex[:8].upper()}"
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn, conn.transaction():
        cur = await conn.execute(
            "INSERT INTO instruments (id, symbol, name, asset_class, currency, exchange)"
            " SELECT coalesce(max(id), 0) + 1, %s, 'Performance test', 'equity', 'USD', 'TEST' FROM instruments"
            " RETURNING id",
            (symbol,),
        )
        (instrument,) = await cur.fetchone() or (0,)
        for d, c in zip(DAYS, CLOSES, strict=True):
            await conn.execute(
                "INSERT INTO daily_prices (instrument_id, day, close) VALUES (%s, %s, %s)", (instrument, d, c)
            )
    return symbol


async def cash(client, settings, user: int, kind: str, amount: str, on: date | None) -> None:
    r = await client.post(f"/api/user/{user}/cash", json={"type": kind, "amount": amount, "currency": "USD"})
    assert r.status_code == 201, r.text
    if on is not None:  # the API books now: move the entry to its day
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            await conn.execute(
                "UPDATE ledger_entries SET booked_at = %s WHERE id = %s", (noon(on), r.json()["entry"]["id"])
            )


async def trade(settings, user: int, symbol: str, side: str, quantity: str, price: str, on: date) -> None:
    """Through the trade store's own booking path (holdings, trade, cash settlement), executed on a past day."""
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn, conn.transaction():
        await lock_user(conn, user)
        order = Order(symbol=symbol, side=side, quantity=Decimal(quantity), price=Decimal(price))  # type: ignore[arg-type]
        done = await book_trade(conn, user, order, executed_at=noon(on))
        await conn.execute("UPDATE ledger_entries SET booked_at = %s WHERE trade_id = %s", (noon(on), done.trade.id))


async def test_the_figures_are_the_pure_modules_on_the_daily_values_and_cached_until_a_deposit(client, settings):
    symbol = await own_instrument(settings)
    r = await client.post("/api/users", json={"email": f"perf-{uuid.uuid4().hex[:12]}@example.com", "name": "P"})
    user = r.json()["id"]
    await cash(client, settings, user, "deposit", "1000", DAYS[0])
    await trade(settings, user, symbol, "buy", "50", "10", DAYS[0])
    await cash(client, settings, user, "deposit", "200", DAYS[2])
    await trade(settings, user, symbol, "sell", "10", "11", DAYS[3])
    await cash(client, settings, user, "withdrawal", "100", DAYS[4])

    first = await client.get(f"/api/user/{user}/performance", params={"period": "1M", "benchmark": symbol})
    assert first.status_code == 200, first.text
    assert first.headers["x-cache"] == "miss"
    body = dec(first)
    values = {p["day"]: p["value"] for p in body["series"]}
    assert [values[d.isoformat()] for d in DAYS] == [Decimal(v) for v in EXPECTED]
    assert min(values) == DAYS[0].isoformat()  # nothing before the first deposit
    assert [(f["day"], f["amount"]) for f in body["flows"]] == [  # the first is already in the first value
        (DAYS[0].isoformat(), Decimal(1000)),
        (DAYS[2].isoformat(), Decimal(200)),
        (DAYS[4].isoformat(), Decimal(-100)),
    ]
    series = [DailyValue(day=date.fromisoformat(p["day"]), value=p["value"]) for p in body["series"]]
    flows = [ExternalFlow(day=date.fromisoformat(f["day"]), amount=f["amount"]) for f in body["flows"]]
    expected = performance(series, flows, risk_free_rate=settings.risk_free_rate)
    got = body["figures"]
    for name in ("time_weighted_return", "money_weighted_return", "volatility", "sharpe"):
        assert close_to(None if got[name] is None else float(got[name]), getattr(expected, name)), name
    assert expected.max_drawdown is not None
    assert got["max_drawdown"]["trough"] == expected.max_drawdown.trough.isoformat()
    # the benchmark is the instrument's closes: +40 % from 10 to 14
    assert body["benchmark"]["symbol"] == symbol
    assert math.isclose(float(body["benchmark"]["figures"]["time_weighted_return"]), 0.4, abs_tol=1e-12)

    second = await client.get(f"/api/user/{user}/performance", params={"period": "1M", "benchmark": symbol})
    assert (second.status_code, second.headers["x-cache"], second.content) == (200, "hit", first.content)

    await cash(client, settings, user, "deposit", "500", None)  # today
    third = await client.get(f"/api/user/{user}/performance", params={"period": "1M", "benchmark": symbol})
    assert third.headers["x-cache"] == "miss"
    assert [f["amount"] for f in dec(third)["flows"]] == [1000, 200, -100, 500]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [({"period": "2W"}, 400, "period"), ({"benchmark": "NOSUCHSYMBOL1"}, 422, "benchmark")],
)
async def test_an_unknown_period_or_benchmark_names_the_field(client, params, status, field):
    r = await client.post("/api/users", json={"email": f"perf-{uuid.uuid4().hex[:12]}@example.com", "name": "P"})
    answer = await client.get(f"/api/user/{r.json()['id']}/performance", params=params)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert field in json.dumps(problem.get("errors", problem))


async def test_an_unknown_user_is_404(client):
    assert (await client.get("/api/user/987654321987/performance")).status_code == 404


async def stored_days(settings, user: int) -> dict[str, Decimal]:
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute("SELECT day, value FROM daily_values WHERE user_id = %s ORDER BY day", (user,))
        return {d.isoformat(): v for d, v in await cur.fetchall()}


async def test_past_days_are_stored_once_read_from_the_store_and_a_past_dated_import_recomputes_them(client, settings):
    symbol = await own_instrument(settings)
    r = await client.post("/api/users", json={"email": f"perf-{uuid.uuid4().hex[:12]}@example.com", "name": "P"})
    user = r.json()["id"]
    await cash(client, settings, user, "deposit", "1000", DAYS[0])
    await trade(settings, user, symbol, "buy", "50", "10", DAYS[0])
    await cash(client, settings, user, "deposit", "200", DAYS[2])
    await trade(settings, user, symbol, "sell", "10", "11", DAYS[3])
    await cash(client, settings, user, "withdrawal", "100", DAYS[4])
    assert await stored_days(settings, user) == {}

    # No day stored yet: the answer is computed, right, and its past days are stored for the next read.
    first = dec(await client.get(f"/api/user/{user}/performance", params={"period": "1M"}))
    values = {p["day"]: p["value"] for p in first["series"]}
    assert [values[d.isoformat()] for d in DAYS] == [Decimal(v) for v in EXPECTED]
    stored = await stored_days(settings, user)
    assert {d.isoformat(): stored[d.isoformat()] for d in DAYS} == {
        d.isoformat(): Decimal(v) for d, v in zip(DAYS, EXPECTED, strict=True)
    }

    # The next read (another period: not the cached answer) takes the past days from the store (the answers
    # stored with them dropped, or it would take those: tests/integration/test_performance_pasts.py).
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await conn.execute("UPDATE daily_values SET value = value + 7 WHERE user_id = %s AND day = %s", (user, DAYS[1]))
        await conn.execute("DELETE FROM performance_pasts WHERE user_id = %s", (user,))
    marked = dec(await client.get(f"/api/user/{user}/performance", params={"period": "3M"}))
    assert {p["day"]: p["value"] for p in marked["series"]}[DAYS[1].isoformat()] == Decimal(EXPECTED[1]) + 7

    # A trade imported with a past date changes the days from its own on: they are computed again, and stored.
    text = f"executed_at,symbol,side,quantity,price\r\n{noon(DAYS[1]).isoformat()},{symbol},buy,10,11\r\n"
    booked = await client.post(
        f"/api/user/{user}/trades/import", content=text.encode(), headers={"Content-Type": "text/csv"}
    )
    assert booked.status_code == 201, booked.text
    after = await client.get(f"/api/user/{user}/performance", params={"period": "3M"})
    assert after.headers["x-cache"] == "miss"
    values = {p["day"]: p["value"] for p in dec(after)["series"]}
    # The shares count from their day; the cash paid for them is booked today (after these days).
    expected = [
        Decimal(v) + (10 * Decimal(c) if i >= 1 else 0) for i, (v, c) in enumerate(zip(EXPECTED, CLOSES, strict=True))
    ]
    assert [values[d.isoformat()] for d in DAYS] == expected
    stored = await stored_days(settings, user)
    assert [stored[d.isoformat()] for d in DAYS] == expected
