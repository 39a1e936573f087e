"""Hostile input through the real app and servers: sizes, malformed and mistyped bodies, injection, numbers."""

import json

import psycopg
import pytest

pytestmark = [pytest.mark.http, pytest.mark.integration]

TABLES = ("users", "instruments", "trades", "holdings")


def row_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def fields(body: dict) -> set[str]:
    return {e["field"] for e in body.get("errors") or []}


async def test_a_body_over_the_limit_is_413_problem_details(client, settings):
    big = b'{"quotes": [' + b" " * (settings.max_request_body_bytes + 10) + b"]}"
    response = await client.put("/api/market-data/quotes", content=big, headers={"content-type": "application/json"})
    problem(response, 413)
    response = await client.post("/api/user/1/trades", content=big, headers={"content-type": "application/json"})
    problem(response, 413)


async def test_malformed_json_is_400_naming_the_body(client):
    response = await client.post(
        "/api/user/1/trades", content=b'{"symbol": "AAPL", "side": ', headers={"content-type": "application/json"}
    )
    body = problem(response, 400)
    assert "body" in json.dumps(body).lower() or "json" in json.dumps(body).lower()


@pytest.mark.parametrize(
    ("trade", "field"),
    [
        ({"symbol": "AAPL", "side": "buy", "quantity": "lots", "price": "1"}, "quantity"),
        ({"symbol": "AAPL", "side": "hold", "quantity": "1", "price": "1"}, "side"),
        ({"symbol": 42, "side": "buy", "quantity": "1", "price": "1"}, "symbol"),
        ({"symbol": "AAPL", "side": "buy", "quantity": "1"}, "price"),
        ({"symbol": "AAPL", "side": "buy", "quantity": "1", "price": "1", "admin": True}, "admin"),
    ],
)
async def test_wrong_types_are_400_naming_the_field(client, trade, field):
    body = problem(await client.post("/api/user/1/trades", json=trade), 400)
    assert field in fields(body) or field in body["detail"], body


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/api/market-data/AAPL';DROP TABLE trades;--", {400, 404}),
        ("/api/market-data/1 OR 1=1", {400, 404}),
        ("/api/user/1 OR 1=1/portfolio", {400, 404}),
        ("/api/user/1;DELETE FROM holdings/trades", {400, 404}),
        ("/api/user/1/trades?cursor=' OR ''='", {400}),
        ("/api/user/1/trades?limit=1;DROP TABLE users", {400}),
    ],
)
async def test_injection_looking_paths_are_4xx_and_the_database_is_unharmed(client, servers, path, statuses):
    before = row_counts(servers.database_url)
    response = await client.get(path)
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert row_counts(servers.database_url) == before


async def test_an_injection_looking_symbol_in_a_body_is_rejected_and_changes_nothing(client, servers):
    before = row_counts(servers.database_url)
    trade = {"symbol": "AAPL'); DELETE FROM trades; --", "side": "buy", "quantity": "1", "price": "1"}
    body = problem(await client.post("/api/user/1/trades", json=trade), 400)
    assert "symbol" in fields(body)
    quotes = {"quotes": [{"symbol": "X' OR '1'='1", "price": "1"}]}
    assert (await client.put("/api/market-data/quotes", json=quotes)).status_code in (400, 422)
    assert row_counts(servers.database_url) == before


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/user/1/trades?limit=501", "limit"),
        ("/api/user/1/trades?limit=0", "limit"),
        ("/api/user/1/trades?limit=-5", "limit"),
        ("/api/user/1/trades?limit=99999999999999999999999999", "limit"),
        ("/api/market-data/AAPL?days=0", "days"),
        ("/api/market-data/AAPL?days=3651", "days"),
        ("/api/market-data/AAPL?days=-1", "days"),
        ("/api/user/99999999999999999999999/portfolio", "user_id"),
        ("/api/user/-3/trades", "user_id"),
        ("/api/user/0/portfolio", "user_id"),
    ],
)
async def test_out_of_range_numbers_are_400_naming_the_parameter(client, path, field):
    response = await client.get(path)
    assert response.status_code in (400, 404), response.text
    if response.status_code == 400:
        assert field in fields(response.json()) or field in response.json()["detail"]


@pytest.mark.parametrize(
    "quantity", ["-5", "0", "1e400", "-1e400", "NaN", "Infinity", "1" * 400, "0." + "0" * 400 + "1"]
)
async def test_huge_negative_and_odd_quantities_are_4xx_and_change_nothing(client, servers, quantity):
    before = row_counts(servers.database_url)
    trade = {"symbol": "AAPL", "side": "buy", "quantity": quantity, "price": "10"}
    response = await client.post("/api/user/1/trades", json=trade)
    assert response.status_code in (400, 422), response.text
    assert "quantity" in fields(response.json()) or "quantity" in response.json()["detail"]
    assert row_counts(servers.database_url) == before


async def test_an_oversized_quote_batch_is_rejected_naming_the_field(client, settings):
    quotes = {"quotes": [{"symbol": "AAPL", "price": "1"}] * (settings.quote_batch_max + 1)}
    response = await client.put("/api/market-data/quotes", json=quotes)
    assert response.status_code in (400, 413, 422), response.text
    assert "quotes" in json.dumps(response.json())
