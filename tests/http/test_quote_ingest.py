from decimal import Decimal

import pytest

pytestmark = [pytest.mark.http, pytest.mark.integration]


async def a_symbol(client, index):
    doc = (await client.get("/api/static-data/instruments")).json()
    movable = [i["symbol"] for i in doc["instruments"] if i["asset_class"] == "equity"]
    return movable[index]


def quote_of(response):
    return {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in response.json()["quote"].items()}


async def test_ingest_publishes_a_new_version_served_at_once(client):
    symbol = await a_symbol(client, 3)
    before = quote_of(await client.get(f"/api/market-data/{symbol}"))
    price = (Decimal(before["price"]) * Decimal("1.5")).quantize(Decimal("0.01"))
    r = await client.put("/api/market-data/quotes", json={"quotes": [{"symbol": symbol, "price": str(price)}]})
    assert r.status_code == 200
    version = r.json()["version"]
    assert r.json()["quotes"] == 1
    after = (await client.get(f"/api/market-data/{symbol}")).json()
    assert after["version"] >= version
    q = after["quote"]
    assert Decimal(str(q["price"])) == price
    assert Decimal(str(q["previous_close"])) == Decimal(str(before["previous_close"]))
    assert Decimal(str(q["day_high"])) == price  # widened to the new high
    assert Decimal(str(q["bid"])) <= price <= Decimal(str(q["ask"]))  # the spread follows the price
    doc = (await client.get("/api/market-data", headers={"accept-encoding": "gzip"})).json()
    assert doc["version"] >= version
    assert next(x for x in doc["quotes"] if x["symbol"] == symbol)["price"] == float(price)


async def test_ingest_takes_bid_ask_and_volume(client):
    symbol = await a_symbol(client, 4)
    body = {"quotes": [{"symbol": symbol, "price": 10.5, "bid": 10.25, "ask": 10.75, "volume": 1234}]}
    assert (await client.put("/api/market-data/quotes", json=body)).status_code == 200
    q = (await client.get(f"/api/market-data/{symbol}")).json()["quote"]
    assert (q["bid"], q["ask"], q["volume"], q["day_low"]) == (10.25, 10.75, 1234, 10.5)


@pytest.mark.parametrize(
    ("quotes", "field"),
    [
        ([{"symbol": "CASH-EUR", "price": 1}, {"symbol": "NOSUCH9", "price": 1}], "quotes[1].symbol"),
        ([{"symbol": "CASH-EUR", "price": -1}], "quotes[0].price"),
        ([{"symbol": "CASH-EUR", "price": "NaN"}], "quotes[0].price"),
        ([{"symbol": "CASH-EUR", "price": 1, "bid": 2, "ask": 1}], "quotes[0].ask"),
        ([{"symbol": "CASH-EUR", "price": 0.000000001}], "quotes[0].price"),  # the ledger keeps 8 places
        ([{"symbol": "CASH-EUR", "price": 1, "bid": "1.000000001"}], "quotes[0].bid"),
        ([{"symbol": "CASH-EUR", "price": 1}, {"symbol": "CASH-EUR", "price": 2}], "quotes[1].symbol"),
        ([], "quotes"),
    ],
)
async def test_ingest_rejects_rule_breaking_batches_naming_the_field(client, quotes, field):
    version = (await client.get("/api/market-data/CASH-EUR")).json()["version"]
    r = await client.put("/api/market-data/quotes", json={"quotes": quotes})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == field
    if field.endswith("symbol") and quotes[-1]["symbol"] == "NOSUCH9":
        assert "NOSUCH9" in r.json()["detail"]
    assert (await client.get("/api/market-data/CASH-EUR")).json()["version"] == version  # nothing published


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quotes": [{"symbol": "CASH-EUR", "price": "abc"}]}, "quotes[0].price"),
        ({"quotes": [{"symbol": "CASH-EUR", "price": 1}, {"symbol": "CASH-EUR", "volume": "x"}]}, "quotes[1].volume"),
        ({"quotes": [{"symbol": "cash-eur", "price": 1}]}, "quotes[0].symbol"),
        ({"quotes": [{"symbol": "CASH-EUR", "price": 1, "volume": -1}]}, "quotes[0].volume"),
        ({"quotes": "CASH-EUR"}, "quotes"),
    ],
)
async def test_ingest_rejects_ill_typed_bodies_naming_the_field(client, body, field):
    r = await client.put("/api/market-data/quotes", json=body)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"quotes": [{"symbol": "CASH-EUR", "price": 1, "colour": "red"}]}, "colour"),
        ({"quotes": [{"price": 1}]}, "symbol"),
        ({"rows": []}, "rows"),
        ({}, "quotes"),
    ],
)
async def test_ingest_rejects_unknown_or_missing_fields_naming_them(client, body, named):
    r = await client.put("/api/market-data/quotes", json=body)
    assert r.status_code == 400
    assert named in r.json()["errors"][0]["message"]


async def test_ingest_batches_are_bounded(client, settings):
    quotes = [{"symbol": "CASH-EUR", "price": 1}] * (settings.quote_batch_max + 1)
    r = await client.put("/api/market-data/quotes", json={"quotes": quotes})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "quotes"
