"""Corporate actions on the real servers: an operator records them over HTTP, a real Dramatiq worker applies
them when the market day's job is delivered (twice, as a redelivery would), and users see the result."""

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest

from cli.embedded import EmbeddedServers
from config.queues import DAILY_JOB_ACTORS, MARKET_QUEUE
from config.settings import Settings
from config.wiring.reports import build_broker
from domain.adapters.daily_jobs_queue import DramatiqDailyJobQueue
from domain.models.market_day import CORPORATE_ACTION_JOB
from tests.processes import WorkerProcess, worker_process

pytestmark = [pytest.mark.integration, pytest.mark.http]


@pytest.fixture(scope="module")
def worker(process_env: dict[str, str], servers: EmbeddedServers) -> Iterator[WorkerProcess]:
    with worker_process(
        {**process_env, "LOG_LEVEL": "INFO"}, servers.data_dir / "corporate-actions" / "worker.log"
    ) as w:
        yield w


def unique_day(settings: Settings) -> date:
    """An ex-date of this test's own, after every run so far (an ex-date a run has passed is refused): a day's
    run is claimed once per database, whichever test sends it."""
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT max(day) FROM job_runs WHERE job = %s", (CORPORATE_ACTION_JOB,)).fetchone()
    latest = max(row[0] or date(2400, 1, 1), date(2400, 1, 1))
    return latest + timedelta(days=random.randrange(10, 1000))


def dec(response) -> dict:
    return json.loads(response.content, parse_float=Decimal)


async def deliver_twice(settings: Settings, *days: date) -> None:
    """Send the job for each day twice, as a redelivery (or the clock's catch-up beside its close) would."""
    broker = build_broker(settings)
    queue = DramatiqDailyJobQueue(broker, queue_name=MARKET_QUEUE, actors=DAILY_JOB_ACTORS)
    try:
        for day in days:
            await queue.send(CORPORATE_ACTION_JOB, day)
            await queue.send(CORPORATE_ACTION_JOB, day)
    finally:
        broker.close()


async def wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[misc]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}")


async def new_instrument(client, settings: Settings, currency: str, ex_date: date) -> str:
    """A quoted instrument with three closes around `ex_date`, published as a new quote version."""
    symbol = f"CA{uuid.uuid4().hex[:8].upper()}"
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        iid = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM instruments").fetchone()[0]
        conn.execute(
            "INSERT INTO instruments (id, symbol, name, asset_class, currency, exchange)"
            " VALUES (%s, %s, %s, 'equity', %s, 'TEST')",
            (iid, symbol, symbol, currency),
        )
        conn.execute(
            "INSERT INTO quotes (instrument_id, price, bid, ask, previous_close, day_high, day_low, volume, as_of)"
            " VALUES (%s, 100, 99.9, 100.1, 98, 101, 97, 10, now())",
            (iid,),
        )
        for days_before, close in ((2, "90"), (1, "96"), (0, "100")):
            conn.execute(
                "INSERT INTO daily_prices (instrument_id, day, close) VALUES (%s, %s, %s)",
                (iid, ex_date - timedelta(days=days_before), close),
            )
        conn.execute("INSERT INTO quote_versions (quotes) VALUES (1)")  # every process loads the new instrument
    await wait_for(lambda: _listed(client, symbol), "the new instrument served")
    return symbol


async def new_holder(client, symbol: str, currency: str, *buys: tuple[str, str]) -> int:
    r = await client.post("/api/users", json={"email": f"ca-{uuid.uuid4().hex[:12]}@example.com", "name": "Holder"})
    user = r.json()["id"]
    body = {"type": "deposit", "amount": "100000", "currency": currency}
    assert (await client.post(f"/api/user/{user}/cash", json=body)).status_code == 201
    for quantity, price in buys:
        order = {"symbol": symbol, "side": "buy", "quantity": quantity, "price": price}
        assert (await client.post(f"/api/user/{user}/trades", json=order)).status_code == 201
    return user


async def holding(client, user: int, symbol: str) -> dict:
    body = dec(await client.get(f"/api/user/{user}/portfolio"))
    return next(h for h in body["holdings"] if h["symbol"] == symbol)


async def action(client, action_id: int) -> dict:
    items = dec(await client.get("/api/ops/corporate-actions"))["items"]
    return next(a for a in items if a["id"] == action_id)


async def test_a_split_keeps_every_holders_market_value_and_adjusts_the_history(client, settings, worker):
    ex_date = unique_day(settings)
    symbol = await new_instrument(client, settings, "USD", ex_date)
    users = [
        await new_holder(client, symbol, "USD", ("10", "100")),
        await new_holder(client, symbol, "USD", ("3", "80")),
    ]
    before = {u: await holding(client, u, symbol) for u in users}  # also fills the holdings cache
    quote_before = _quote(settings, symbol)
    recorded = await client.post(
        "/api/ops/corporate-actions", json={"type": "split", "symbol": symbol, "ratio": "4/2", "ex_date": str(ex_date)}
    )
    assert recorded.status_code == 201, recorded.text
    assert (recorded.json()["ratio"], recorded.json()["applied_at"]) == ("2", None)

    await deliver_twice(settings, ex_date - timedelta(days=1))
    await wait_for(lambda: _applied(client, recorded.json()["id"]), "the split applied")
    # The new quotes reach this process when it hears of their version (a nudge, or its poll as the fallback).
    await wait_for(lambda: _priced(client, symbol, quote_before[0] / 2), "the split quote served")

    for user in users:
        after = await holding(client, user, symbol)
        assert after["quantity"] == before[user]["quantity"] * 2  # the cached holdings were dropped
        assert after["average_cost"] == before[user]["average_cost"] / 2
        assert after["quantity"] * after["price"] == before[user]["quantity"] * before[user]["price"]
    listing = dec(await client.get(f"/api/market-data/{symbol}", params={"days": 10}))
    closes = {c["day"]: c["close"] for c in listing["daily_closes"]}
    assert closes == {
        str(ex_date - timedelta(days=2)): Decimal(45), str(ex_date - timedelta(days=1)): Decimal(48),
        str(ex_date): Decimal(100),
    }  # fmt: skip
    assert _quote(settings, symbol) == tuple(v / 2 for v in quote_before)  # price, bid, ask, previous close, range
    # The trades, booked before the split, read on today's terms for analytics (the holdings' 10 and 3, doubled).
    with psycopg.connect(settings.database_url) as conn:
        adjusted = conn.execute(
            "SELECT t.user_id, t.quantity, t.split_factor, t.adjusted_quantity, t.adjusted_price FROM trades_adjusted t"
            " JOIN instruments i ON i.id = t.instrument_id WHERE i.symbol = %s ORDER BY t.user_id",
            (symbol,),
        ).fetchall()
    assert adjusted == [
        (users[0], Decimal(10), Decimal(2), Decimal(20), Decimal(50)),
        (users[1], Decimal(3), Decimal(2), Decimal(6), Decimal(40)),
    ]


def _quote(settings: Settings, symbol: str) -> tuple[Decimal, ...]:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT price, bid, ask, previous_close, day_high, day_low FROM quotes q JOIN instruments i"
            " ON i.id = q.instrument_id WHERE i.symbol = %s",
            (symbol,),
        ).fetchone()
    assert row is not None
    return tuple(row)


async def test_a_dividend_pays_the_holders_at_the_ex_date_once_though_delivered_twice(client, settings, worker):
    ex_date = unique_day(settings)
    pay_date = ex_date + timedelta(days=3)
    symbol = await new_instrument(client, settings, "EUR", ex_date)
    holder = await new_holder(client, symbol, "EUR", ("10", "20"))
    body = {"type": "dividend", "symbol": symbol, "amount_per_share": "0.35", "ex_date": str(ex_date),
            "pay_date": str(pay_date)}  # fmt: skip
    recorded = await client.post("/api/ops/corporate-actions", json=body)
    assert recorded.status_code == 201, recorded.text

    await deliver_twice(settings, ex_date - timedelta(days=1))  # the close before the ex-date: holders recorded
    await wait_for(lambda: _applied(client, recorded.json()["id"]), "the holders recorded")
    late = await new_holder(client, symbol, "EUR", ("5", "20"))  # bought on the ex-date: not entitled
    order = {"symbol": symbol, "side": "sell", "quantity": "4", "price": "20"}
    assert (await client.post(f"/api/user/{holder}/trades", json=order)).status_code == 201  # still entitled to 10
    cash_before = await _cash(client, holder)

    await deliver_twice(settings, pay_date, pay_date + timedelta(days=1))
    await wait_for(lambda: _paid(client, recorded.json()["id"]), "the dividend paid")
    await asyncio.sleep(1)  # the repeats have had their chance
    assert await _cash(client, holder) == cash_before + Decimal("3.5")
    entries = dec(await client.get(f"/api/user/{holder}/ledger"))["items"]
    dividends = [e for e in entries if e["kind"] == "dividend"]
    assert [e["postings"] for e in dividends] == [[
        {"account": "cash", "currency": "EUR", "amount": Decimal("3.5")},
        {"account": "market", "currency": "EUR", "amount": Decimal("-3.5")},
    ]]  # fmt: skip
    late_entries = dec(await client.get(f"/api/user/{late}/ledger"))["items"]
    assert "dividend" not in [e["kind"] for e in late_entries]
    assert (await action(client, recorded.json()["id"]))["payments"] == 1


async def test_a_split_the_columns_cannot_hold_fails_alone_and_the_days_runs_go_on(client, settings, worker):
    ex_date = unique_day(settings)
    poisoned, fine = [await new_instrument(client, settings, "USD", ex_date) for _ in range(2)]
    whale = await new_holder(client, poisoned, "USD", ("1", "100"))
    holder = await new_holder(client, fine, "USD", ("4", "100"))
    with psycopg.connect(settings.database_url, autocommit=True) as conn:  # more shares than a trade could buy
        conn.execute(
            "UPDATE holdings SET quantity = 1e17 WHERE user_id = %s AND instrument_id ="
            " (SELECT id FROM instruments WHERE symbol = %s)",
            (whale, poisoned),
        )
    ids = []
    for symbol in (poisoned, fine):
        body = {"type": "split", "symbol": symbol, "ratio": "1000", "ex_date": str(ex_date)}
        recorded = await client.post("/api/ops/corporate-actions", json=body)
        assert recorded.status_code == 201, recorded.text
        ids.append(recorded.json()["id"])

    await deliver_twice(settings, ex_date - timedelta(days=1))
    await wait_for(lambda: _applied(client, ids[1]), "the healthy split applied")
    failed = await action(client, ids[0])
    assert (failed["state"], failed["failure"], failed["applied_at"]) == ("failed", "numeric field overflow", None)
    assert (await holding(client, holder, fine))["quantity"] == 4000
    assert (await holding(client, whale, poisoned))["quantity"] == Decimal("1e17")  # untouched
    with psycopg.connect(settings.database_url) as conn:
        outcome = conn.execute(
            "SELECT outcome FROM job_runs WHERE job = %s AND day = %s", (CORPORATE_ACTION_JOB, ex_date - timedelta(1))
        ).fetchone()
    assert outcome == (1,)  # the day's run completed, with the one split it could apply


async def _priced(client, symbol: str, price: Decimal) -> bool:
    return dec(await client.get(f"/api/market-data/{symbol}"))["quote"]["price"] == price


async def _listed(client, symbol: str) -> bool:
    return (await client.get(f"/api/market-data/{symbol}")).status_code == 200


async def _applied(client, action_id: int) -> bool:
    return (await action(client, action_id))["applied_at"] is not None


async def _paid(client, action_id: int) -> bool:
    return (await action(client, action_id))["payments"] > 0


async def _cash(client, user: int) -> Decimal:
    body = dec(await client.get(f"/api/user/{user}/portfolio"))
    return next(c["amount"] for c in body["cash"] if c["currency"] == "EUR")
