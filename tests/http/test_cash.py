"""Cash through the API: deposits and withdrawals, trades that settle in cash, and the ledger's pages."""

import json
import uuid
from decimal import Decimal

import psycopg
import pytest

pytestmark = [pytest.mark.http, pytest.mark.integration]


def dec(response):
    return json.loads(response.content, parse_float=Decimal)


async def move(client, user_id, kind, amount, currency="USD", key=None):
    headers = {"Idempotency-Key": key} if key else {}
    body = {"type": kind, "amount": amount, "currency": currency}
    return await client.post(f"/api/user/{user_id}/cash", json=body, headers=headers)


async def new_user(client) -> int:
    r = await client.post("/api/users", json={"email": f"cash-{uuid.uuid4().hex[:12]}@example.com", "name": "Cash"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def cash_of(body) -> dict[str, Decimal]:
    return {b["currency"]: b["amount"] for b in body["cash"]}


async def test_a_deposit_and_a_withdrawal_move_the_cash_and_show_in_the_ledger(client, settings):
    user = await new_user(client)
    first = await move(client, user, "deposit", "1000.25", "EUR")
    assert first.status_code == 201, first.text
    body = dec(first)
    assert body["entry"]["kind"] == "deposit"
    assert body["entry"]["postings"] == [
        {"account": "cash", "currency": "EUR", "amount": Decimal("1000.25")},
        {"account": "bank", "currency": "EUR", "amount": Decimal("-1000.25")},
    ]
    assert cash_of(body) == {"EUR": Decimal("1000.25")}
    out = dec(await move(client, user, "withdrawal", 0.25, "EUR"))  # a JSON number, kept exact
    assert cash_of(out) == {"EUR": Decimal(1000)}
    page = dec(await client.get(f"/api/user/{user}/ledger"))
    assert [e["kind"] for e in page["items"]] == ["withdrawal", "deposit"]
    assert page["next_cursor"] is None
    with psycopg.connect(settings.database_url) as conn:  # the stored balance is the postings' sum
        row = conn.execute(
            "SELECT b.balance, (SELECT sum(p.amount) FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id"
            " WHERE e.user_id = b.user_id AND p.currency = b.currency AND p.account = 'cash')"
            " FROM cash_balances b WHERE b.user_id = %s AND b.currency = 'EUR'",
            (user,),
        ).fetchone()
    assert row == (Decimal(1000), Decimal(1000))


async def test_a_withdrawal_beyond_the_balance_is_422_naming_amount(client):
    user = await new_user(client)
    await move(client, user, "deposit", "10")
    r = await move(client, user, "withdrawal", "10.01")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "amount"
    assert [e["kind"] for e in (await client.get(f"/api/user/{user}/ledger")).json()["items"]] == ["deposit"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"type": "deposit", "amount": "0", "currency": "USD"}, 422, "amount"),
        ({"type": "deposit", "amount": "1.123456789", "currency": "USD"}, 422, "amount"),
        ({"type": "deposit", "amount": "1e3", "currency": "USD"}, 400, "amount"),
        ({"type": "deposit", "amount": "1", "currency": "usd"}, 400, "currency"),
        ({"type": "gift", "amount": "1", "currency": "USD"}, 400, "type"),
        ({"type": "deposit", "amount": "1", "currency": "USD", "note": "x"}, 400, "note"),
    ],
)
async def test_bad_cash_requests_name_the_field(client, body, status, field):
    r = await client.post("/api/user/9010/cash", json=body)
    assert r.status_code == status, r.text
    assert field in r.text


async def test_a_repeated_idempotency_key_returns_the_first_entry_once(client):
    user, key = await new_user(client), f"cash-{uuid.uuid4()}"
    first = await move(client, user, "deposit", "50", key=key)
    again = await move(client, user, "deposit", "50", key=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["entry"] == first.json()["entry"]
    assert cash_of(dec(again)) == {"USD": Decimal(50)}
    reused = await move(client, user, "deposit", "51", key=key)
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_a_buy_pays_from_cash_and_without_enough_cash_is_422_naming_amount(client):
    user = await new_user(client)
    await move(client, user, "deposit", "100")
    order = {"symbol": "XOM", "side": "buy", "quantity": "10", "price": "1.5"}
    bought = await client.post(f"/api/user/{user}/trades", json=order)
    assert bought.status_code == 201, bought.text
    assert (dec(bought)["fee"], dec(bought)["cash"]) == (0, {"USD": Decimal(85)})
    refused = await client.post(f"/api/user/{user}/trades", json={**order, "quantity": "60"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "amount"
    sold = await client.post(f"/api/user/{user}/trades", json={**order, "side": "sell", "price": "2"})
    assert dec(sold)["cash"] == {"USD": Decimal(105)}
    entries = (await client.get(f"/api/user/{user}/ledger")).json()["items"]
    assert [(e["kind"], e["trade_id"]) for e in entries] == [
        ("trade", sold.json()["id"]), ("trade", bought.json()["id"]), ("deposit", None),
    ]  # fmt: skip


async def test_the_ledger_filters_by_currency_and_time_and_pages_by_cursor(client):
    user = await new_user(client)
    for amount, currency in (("1", "USD"), ("2", "EUR"), ("3", "USD")):
        await move(client, user, "deposit", amount, currency)
    usd = (await client.get(f"/api/user/{user}/ledger", params={"currency": "USD", "limit": 1})).json()
    assert [e["postings"][0]["amount"] for e in usd["items"]] == [3]
    rest = await client.get(f"/api/user/{user}/ledger", params={"currency": "USD", "cursor": usd["next_cursor"]})
    assert [e["postings"][0]["amount"] for e in rest.json()["items"]] == [1]
    later = await client.get(f"/api/user/{user}/ledger", params={"since": "2999-01-01T00:00:00Z"})
    assert later.json() == {"items": [], "next_cursor": None}
    for params in ({"currency": "usd"}, {"currency": "USD\n"}, {"since": "yesterday"}, {"cursor": "x"}):
        r = await client.get(f"/api/user/{user}/ledger", params=params)
        assert r.status_code == 400, (params, r.text)
        assert next(iter(params)) in r.text


async def test_cash_of_an_unknown_user_is_404(client):
    assert (await client.get("/api/user/88888888/ledger")).status_code == 404
    assert (await move(client, 88888888, "deposit", "1")).status_code == 404


async def test_the_portfolio_shows_the_cash_in_its_totals_and_a_booking_is_seen_by_the_next_read(client):
    user = await new_user(client)
    await move(client, user, "deposit", "100")
    first = await client.get(f"/api/user/{user}/portfolio")
    cached = await client.get(f"/api/user/{user}/portfolio")
    assert cached.headers["x-cache"] == "hit"  # the fast lane's body, kept for this user
    assert dec(first) == dec(cached)
    assert dec(cached)["cash"] == [{"currency": "USD", "amount": 100, "amount_base": 100, "weight": 100}]
    await move(client, user, "deposit", "50.5")
    after = dec(await client.get(f"/api/user/{user}/portfolio"))
    assert (after["total_cash"], after["total_market_value"], after["total_unrealized_pnl"]) == (
        Decimal("150.5"), Decimal("150.5"), 0,
    )  # fmt: skip
    await move(client, user, "withdrawal", "150.5")
    emptied = dec(await client.get(f"/api/user/{user}/portfolio"))
    assert (emptied["cash"], emptied["total_market_value"]) == ([], 0)
