import json
from decimal import Decimal

import psycopg
import pytest

pytestmark = [pytest.mark.http, pytest.mark.integration]


def expected_from_database(database_url: str, user_id: int) -> dict[str, Decimal]:
    """An independent valuation straight from SQL: quantity x price, converted by the cash quotes."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            SELECT i.symbol, h.quantity * q.price,
                   h.quantity * q.price * coalesce(fx.price, 1)
            FROM holdings h
            JOIN instruments i ON i.id = h.instrument_id
            JOIN quotes q ON q.instrument_id = h.instrument_id
            LEFT JOIN instruments ci ON ci.symbol = 'CASH-' || i.currency
            LEFT JOIN quotes fx ON fx.instrument_id = ci.id
            WHERE h.user_id = %s AND h.quantity > 0
            """,
            (user_id,),
        ).fetchall()
    return {symbol: (value, base) for symbol, value, base in rows}


async def test_portfolio_is_valued_at_the_latest_quotes(client, servers):
    r = await client.get("/api/user/42/portfolio")
    assert r.status_code == 200
    body = json.loads(r.content, parse_float=Decimal)
    expected = expected_from_database(servers.database_url, 42)
    assert body["user_id"] == 42
    assert 3 <= len(body["holdings"]) <= 30  # 5 to 30 picks, of which up to two currencies, kept as cash
    assert {h["symbol"] for h in body["holdings"]} == set(expected)
    for h in body["holdings"]:
        value, base = expected[h["symbol"]]
        assert h["market_value"] == value.quantize(Decimal("0.01"))
        assert h["market_value_base"] == base.quantize(Decimal("0.01"))
        assert h["unrealized_pnl"] == h["market_value"] - h["cost_basis"]
    cash = sum(c["amount_base"] for c in body["cash"])
    assert body["total_cash"] == cash > 0  # the demo users' opening cash
    total = sum(h["market_value_base"] for h in body["holdings"]) + cash
    assert abs(body["total_market_value"] - total) <= Decimal("0.01") * len(body["holdings"])
    assert body["total_unrealized_pnl"] == body["total_market_value"] - body["total_cost_basis"]
    assert abs(sum(h["weight"] for h in body["holdings"] + body["cash"]) - 100) < 1
    assert body["base_currency"] == "USD"
    assert body["quotes_version"] >= 1


async def test_holdings_are_listed_by_value_and_carry_the_contract_fields(client):
    body = (await client.get("/api/user/7/portfolio")).json()
    values = [h["market_value_base"] for h in body["holdings"]]
    assert values == sorted(values, reverse=True)
    assert set(body["holdings"][0]) >= {
        "symbol",
        "name",
        "asset_class",
        "quantity",
        "average_cost",
        "price",
        "market_value",
        "cost_basis",
        "unrealized_pnl",
        "unrealized_pnl_pct",
        "weight",
    }


async def test_unknown_user_is_a_404_problem(client):
    r = await client.get("/api/user/99999999/portfolio")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "user 99999999 does not exist"


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1e3", "99999999999999999999999"])
async def test_a_bad_user_id_is_a_4xx_problem_never_a_500(client, bad):
    r = await client.get(f"/api/user/{bad}/portfolio")
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_each_holding_and_the_totals_carry_the_change_since_the_previous_close(client, servers):
    r = await client.get("/api/user/42/portfolio")
    assert r.status_code == 200
    body = json.loads(r.content, parse_float=Decimal)
    cent = Decimal("0.01")
    with psycopg.connect(servers.database_url) as conn:
        rows = conn.execute(
            "SELECT i.symbol, h.quantity, q.price, q.previous_close FROM holdings h"
            " JOIN instruments i ON i.id = h.instrument_id JOIN quotes q ON q.instrument_id = h.instrument_id"
            " WHERE h.user_id = 42 AND h.quantity > 0"
        ).fetchall()
    expected = {s: (qty * price).quantize(cent) - (qty * prev).quantize(cent) for s, qty, price, prev in rows}
    assert {h["symbol"]: h["day_change"] for h in body["holdings"]} == expected
    for h in body["holdings"]:
        previous = h["market_value"] - h["day_change"]
        assert h["day_change_pct"] == (h["day_change"] * 100 / previous).quantize(cent)
    previous_total = body["total_market_value"] - body["total_day_change"]
    assert body["total_day_change_pct"] == (body["total_day_change"] * 100 / previous_total).quantize(cent)
    base_changes = sum(h["market_value_base"] * h["day_change"] / h["market_value"] for h in body["holdings"])
    assert abs(body["total_day_change"] - base_changes) <= cent * len(body["holdings"])


async def test_the_openapi_document_requires_the_day_change_fields(client):
    schemas = (await client.get("/docs/openapi.json")).json()["components"]["schemas"]
    holding = next(s for name, s in schemas.items() if name.endswith("ValuedHoldingView"))
    portfolio = next(s for name, s in schemas.items() if name.endswith("PortfolioView"))
    assert {"day_change", "day_change_pct"} <= set(holding["required"])
    assert {"total_day_change", "total_day_change_pct"} <= set(portfolio["required"])


@pytest.mark.parametrize("user", [1, 42, 2718, 5000, 9999])
async def test_a_demo_users_cash_is_its_ledger_and_no_currency_is_a_holding(client, user):
    body = json.loads((await client.get(f"/api/user/{user}/portfolio")).content, parse_float=Decimal)
    assert [h["symbol"] for h in body["holdings"] if h["asset_class"] == "cash"] == []
    entries, cursor = [], None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/api/user/{user}/ledger", params=params)).json()
        entries += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    postings_sum: dict[str, Decimal] = {}
    for entry in entries:
        per_currency: dict[str, Decimal] = {}
        for p in entry["postings"]:
            amount = Decimal(str(p["amount"]))
            per_currency[p["currency"]] = per_currency.get(p["currency"], Decimal(0)) + amount
            if p["account"] == "cash":
                postings_sum[p["currency"]] = postings_sum.get(p["currency"], Decimal(0)) + amount
        assert set(per_currency.values()) == {Decimal(0)}, entry  # each entry balances in each currency
    held = {c: a for c, a in postings_sum.items() if a}
    assert {c["currency"]: c["amount"] for c in body["cash"]} == held
