"""Performance answers stored with the daily values, on the real PostgreSQL: every period's stored answer is what
a full read of the history computes, the route answers with it, and whatever changes the history (a cash
movement, a trade imported with a past date, a fill after them) leaves no stored answer that is no longer right.
The close job's part is in tests/integration/test_daily_values.py (a close rolls every quote of its database).
"""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import msgspec
import pytest
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres.daily_values import PostgresDailyValues
from domain.adapters.postgres.performance import PostgresValueHistory
from domain.analytics.performance import performance, with_sharpe
from domain.analytics.periods import PERIODS, period_start
from domain.models.performance import encode_flows, encode_series
from tests.http.test_performance import CLOSES, DAYS, cash, noon, own_instrument, trade

pytestmark = [pytest.mark.http, pytest.mark.integration]


@pytest.fixture
async def pool(settings) -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(settings.database_url, min_size=1, max_size=2, timeout=10) as p:
        yield p


async def stored_answers(pool: AsyncConnectionPool, user: int, rate: float) -> dict[str, bool]:
    """Per period: whether an answer is stored for today; each one stored must be what a full read computes."""
    source = PostgresValueHistory(pool, "USD")
    today = datetime.now(UTC).date()
    found = {}
    for period in PERIODS:
        since = period_start(period, today)
        assert since is not None
        past = await source.past(user, period, since, today)
        found[period] = past is not None
        if past is None:
            continue
        history = await source.history(user, since, today)
        expected = performance(history.values, history.flows, risk_free_rate=rate)
        assert with_sharpe(past.figures, past.annual_mean, rate) == expected, period
        assert past.series == encode_series(history.values), period
        assert past.flows == encode_flows(history.flows), period
    return found


async def user_with_history(client, settings) -> tuple[int, str]:
    symbol = await own_instrument(settings)
    r = await client.post("/api/users", json={"email": f"past-{uuid.uuid4().hex[:12]}@example.com", "name": "P"})
    user = r.json()["id"]
    await cash(client, settings, user, "deposit", "1000", DAYS[0])
    await trade(settings, user, symbol, "buy", "50", "10", DAYS[0])
    await cash(client, settings, user, "deposit", "200", DAYS[2])
    await trade(settings, user, symbol, "sell", "10", "11", DAYS[3])
    await cash(client, settings, user, "withdrawal", "100", DAYS[4])
    return user, symbol


async def test_the_first_read_stores_every_periods_answer_and_the_route_answers_what_a_full_read_computes(
    client, settings, pool
):
    user, _ = await user_with_history(client, settings)
    assert set((await stored_answers(pool, user, settings.risk_free_rate)).values()) == {False}

    first = await client.get(f"/api/user/{user}/performance", params={"period": "1M"})  # fills the user's days
    assert first.status_code == 200, first.text
    assert set((await stored_answers(pool, user, settings.risk_free_rate)).values()) == {True}

    source = PostgresValueHistory(pool, "USD")
    for period in ("3M", "YTD", "1Y", "ALL"):
        answer = await client.get(f"/api/user/{user}/performance", params={"period": period})
        assert (answer.status_code, answer.headers["x-cache"]) == (200, "miss")
        body = json.loads(answer.content)
        since = period_start(period, datetime.now(UTC).date())
        assert since is not None
        assert body["since"] == since.isoformat()
        history = await source.history(user, since, datetime.now(UTC).date())
        expected = performance(history.values, history.flows, risk_free_rate=settings.risk_free_rate)
        assert body["figures"] == json.loads(msgspec.json.encode(expected)), period
        assert body["series"] == json.loads(encode_series(history.values)), period
        assert [f["amount"] for f in body["flows"]] == [1000, 200, -100]


async def test_a_cash_movement_leaves_no_stored_answer_until_the_next_fill_stores_the_right_one(client, settings, pool):
    user, _ = await user_with_history(client, settings)
    await client.get(f"/api/user/{user}/performance", params={"period": "1M"})
    await cash(client, settings, user, "deposit", "500", None)  # today

    assert set((await stored_answers(pool, user, settings.risk_free_rate)).values()) == {False}
    answer = json.loads((await client.get(f"/api/user/{user}/performance", params={"period": "3M"})).content)
    assert [f["amount"] for f in answer["flows"]] == [1000, 200, -100, 500]

    await PostgresDailyValues(pool, "USD").fill(user)
    assert set((await stored_answers(pool, user, settings.risk_free_rate)).values()) == {True}


async def test_a_trade_imported_with_a_past_date_leaves_no_stored_answer_and_the_route_answers_the_new_days(
    client, settings, pool
):
    user, symbol = await user_with_history(client, settings)
    before = json.loads((await client.get(f"/api/user/{user}/performance", params={"period": "1Y"})).content)
    assert set((await stored_answers(pool, user, settings.risk_free_rate)).values()) == {True}

    text = f"executed_at,symbol,side,quantity,price\r\n{noon(DAYS[1]).isoformat()},{symbol},buy,10,11\r\n"
    booked = await client.post(
        f"/api/user/{user}/trades/import", content=text.encode(), headers={"Content-Type": "text/csv"}
    )
    assert booked.status_code == 201, booked.text
    assert set((await stored_answers(pool, user, settings.risk_free_rate)).values()) == {False}

    after = json.loads((await client.get(f"/api/user/{user}/performance", params={"period": "1Y"})).content)
    moved = {p["day"]: p["value"] - q["value"] for p, q in zip(after["series"], before["series"], strict=True)}
    # The ten shares count from their day on (the cash paid for them is booked today, after these days).
    assert [moved[d.isoformat()] for d in DAYS] == [0] + [10 * int(c) for c in CLOSES[1:]]
    assert after["figures"] != before["figures"]
    # The read stored the moved days again, and with them every period's answer.
    assert set((await stored_answers(pool, user, settings.risk_free_rate)).values()) == {True}
