import json
import re
import uuid
from decimal import Decimal

import pytest

from gateway.trade_schemas import CURSOR_PATTERN

pytestmark = [pytest.mark.http, pytest.mark.integration]


def dec(response):
    return json.loads(response.content, parse_float=Decimal)


def holding(body, symbol):
    return next((h for h in body["holdings"] if h["symbol"] == symbol), None)


async def trade(client, user_id, symbol, side, quantity, price, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    body = {"symbol": symbol, "side": side, "quantity": str(quantity), "price": str(price)}
    return await client.post(f"/api/user/{user_id}/trades", json=body, headers=headers)


async def deposit(client, user_id, amount, currency="USD"):
    body = {"type": "deposit", "amount": str(amount), "currency": currency}
    r = await client.post(f"/api/user/{user_id}/cash", json=body)
    assert r.status_code == 201, r.text
    return r


async def new_user(client) -> int:
    r = await client.post("/api/users", json={"email": f"trader-{uuid.uuid4().hex[:12]}@example.com", "name": "Trader"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_buys_average_the_cost_and_a_sell_realises_the_difference(client):
    user = await new_user(client)
    await deposit(client, user, "7000")
    first = await trade(client, user, "XOM", "buy", 10, 100)
    assert first.status_code == 201, first.text
    second = await trade(client, user, "XOM", "buy", 30, 200)
    assert dec(second)["holding"]["average_cost"] == Decimal("175")
    sold = dec(await trade(client, user, "XOM", "sell", 20, 250))
    assert sold["realized_pnl"] == Decimal("1500")  # (250 - 175) x 20
    assert sold["holding"] == {"quantity": Decimal("20"), "average_cost": Decimal("175"), "realized_pnl": 1500}
    portfolio = dec(await client.get(f"/api/user/{user}/portfolio"))
    assert holding(portfolio, "XOM")["quantity"] == Decimal("20")
    assert holding(portfolio, "XOM")["average_cost"] == Decimal("175")


async def test_a_read_after_a_write_sees_the_write_even_when_the_portfolio_was_cached(client):
    user = 9002
    await client.get(f"/api/user/{user}/portfolio")
    cached = await client.get(f"/api/user/{user}/portfolio")
    assert cached.headers["x-cache"] == "hit"
    before = holding(dec(cached), "KO")
    held = before["quantity"] if before else 0
    assert (await trade(client, user, "KO", "buy", 3, 1)).status_code == 201
    after = dec(await client.get(f"/api/user/{user}/portfolio"))
    assert holding(after, "KO")["quantity"] == held + 3


async def test_a_repeated_idempotency_key_returns_the_first_result_once(client):
    user, key = 9003, f"order-{uuid.uuid4()}"
    first = await trade(client, user, "MA", "buy", 1000, "0.0066", key)
    again = await trade(client, user, "MA", "buy", 1000, "0.0066", key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    history = (await client.get(f"/api/user/{user}/trades")).json()["items"]
    assert [t["id"] for t in history].count(first.json()["id"]) == 1
    reused = await trade(client, user, "MA", "buy", 5, "0.0066", key)
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "NOPE", "side": "buy", "quantity": "1", "price": "1"}, "symbol"),
        ({"symbol": "CASH-EUR", "side": "buy", "quantity": "1", "price": "1.1"}, "symbol"),  # a currency's rate
        ({"symbol": "XOM", "side": "buy", "quantity": "0", "price": "1"}, "quantity"),
        ({"symbol": "XOM", "side": "buy", "quantity": "-3", "price": "1"}, "quantity"),
        ({"symbol": "XOM", "side": "buy", "quantity": "1", "price": "-1"}, "price"),
        ({"symbol": "XOM", "side": "buy", "quantity": "1e30", "price": "1"}, "quantity"),
        ({"symbol": "XOM", "side": "buy", "quantity": "NaN", "price": "1"}, "quantity"),
        ({"symbol": "XOM", "side": "sell", "quantity": "1000000000", "price": "1"}, "quantity"),
    ],
)
async def test_bad_orders_are_422_naming_the_field(client, body, field):
    r = await client.post("/api/user/9004/trades", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == field


async def test_a_currency_is_not_tradable_its_cash_moves_through_the_ledger(client):
    user = await new_user(client)
    await deposit(client, user, "1000")
    r = await trade(client, user, "CASH-EUR", "buy", 100, "1.08")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "symbol"
    assert "CASH-EUR" in r.json()["detail"]
    portfolio = dec(await client.get(f"/api/user/{user}/portfolio"))
    assert (portfolio["holdings"], portfolio["cash"]) == (
        [],
        [{"currency": "USD", "amount": 1000, "amount_base": 1000, "weight": 100}],
    )
    assert (await client.get(f"/api/user/{user}/trades")).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "x'; DROP TABLE trades;--", "side": "buy", "quantity": "1", "price": "1"}, "symbol"),
        ({"symbol": "XOM", "side": "hold", "quantity": "1", "price": "1"}, "side"),
        ({"symbol": "XOM", "side": "buy", "quantity": "lots", "price": "1"}, "quantity"),
        ({"symbol": "XOM", "side": "buy", "quantity": "1"}, "price"),
    ],
)
async def test_malformed_orders_are_4xx_naming_the_field(client, body, field):
    r = await client.post("/api/user/9004/trades", json=body)
    assert r.status_code in (400, 422), r.text
    assert field in r.text


async def test_amounts_keep_every_digit_sent_as_a_json_number(client):
    body = b'{"symbol": "KO", "side": "buy", "quantity": 123456789012.12345678, "price": 0.09512345}'
    await deposit(client, 9006, "11800000000")  # the demo float does not cover it
    r = await client.post("/api/user/9006/trades", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    assert dec(r)["quantity"] == Decimal("123456789012.12345678")  # a float would have kept 17 digits
    assert dec(r)["price"] == Decimal("0.09512345")


@pytest.mark.parametrize(("quantity", "status"), [("1e3", 400), ("+5", 400), (".5", 400), ("0.000000001", 422)])
async def test_amount_strings_are_plain_decimal_notation(client, quantity, status):
    r = await trade(client, 9006, "KO", "buy", quantity, 1)
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["field"] == "quantity"


async def test_a_sale_whose_profit_the_ledger_cannot_record_is_422_and_changes_nothing(client):
    user = await new_user(client)
    await deposit(client, user, "100000000")
    assert (await trade(client, user, "XOM", "buy", "999999999999", "0.0001")).status_code == 201
    r = await trade(client, user, "XOM", "sell", "999999999999", "9999999999")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "quantity"
    assert holding(dec(await client.get(f"/api/user/{user}/portfolio")), "XOM")["quantity"] == 999999999999


async def test_options_lists_both_methods_of_the_trades_path(client):
    r = await client.options("/api/user/9006/trades")
    assert r.status_code == 204
    assert r.headers["allow"] == "GET, OPTIONS, POST"


async def test_trades_page_newest_first_with_a_cursor(client):
    user = 9005
    ids = [(await trade(client, user, "MA", "buy", 1, "0.65")).json()["id"] for _ in range(5)]
    page = (await client.get(f"/api/user/{user}/trades", params={"limit": 2})).json()
    assert [t["id"] for t in page["items"]] == ids[::-1][:2]
    rest = (await client.get(f"/api/user/{user}/trades", params={"limit": 10, "cursor": page["next_cursor"]})).json()
    assert [t["id"] for t in rest["items"]] == ids[::-1][2:]
    assert rest["next_cursor"] is None
    assert (await client.get(f"/api/user/{user}/trades", params={"limit": 501})).status_code == 400
    assert (await client.get(f"/api/user/{user}/trades", params={"cursor": "garbage"})).status_code == 400
    assert re.fullmatch(CURSOR_PATTERN, page["next_cursor"])
    # Every cursor of the declared shape is a position: all zeros is past the oldest trade.
    past_the_end = await client.get(f"/api/user/{user}/trades", params={"cursor": "AQAAAAAAAAAA"})
    assert past_the_end.json() == {"items": [], "next_cursor": None}


async def test_trades_of_an_unknown_user_are_404(client):
    assert (await client.get("/api/user/88888888/trades")).status_code == 404
    assert (await trade(client, 88888888, "XOM", "buy", 1, 1)).status_code == 404
