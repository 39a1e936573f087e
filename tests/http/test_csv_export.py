"""Trades and holdings as CSV files: what a spreadsheet opens, and what the import reads back."""

import csv
import io
import json
from datetime import datetime
from decimal import Decimal

import pytest

from gateway.csv_documents import HOLDING_COLUMNS, TRADE_COLUMNS
from tests.http.test_auth import assert_problem
from tests.http.test_trade_imports import funded
from tests.http.test_users import create

pytestmark = [pytest.mark.http, pytest.mark.integration]
PLAIN_DECIMAL = r"-?[0-9]+(\.[0-9]+)?"


@pytest.fixture(scope="module")
async def symbols(client) -> list[str]:
    instruments = (await client.get("/api/static-data/instruments")).json()["instruments"]
    return [i["symbol"] for i in instruments if i["asset_class"] == "equity" and i["currency"] == "USD"][3:5]


def read_csv(response) -> list[dict[str, str]]:
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.endswith("\r\n")
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def trade(client, user_id, symbol, side, quantity, price):
    body = {"symbol": symbol, "side": side, "quantity": quantity, "price": price}
    r = await client.post(f"/api/user/{user_id}/trades", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_trades_export_newest_first_with_iso_times_and_plain_decimals(client, symbols, auth_headers):
    a, b = symbols
    me = await funded(client)
    first = await trade(client, me, a, "buy", "10", "100.25")
    await trade(client, me, b, "buy", "0.00000001", "3")
    last = await trade(client, me, a, "sell", "4", "90")  # a loss: realized_pnl is negative
    r = await client.get(f"/api/user/{me}/trades.csv", headers=auth_headers(me))
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == f'attachment; filename="folio-trades-{me}.csv"'
    rows = read_csv(r)
    assert tuple(rows[0]) == TRADE_COLUMNS
    assert [int(row["id"]) for row in rows] == [last["id"], last["id"] - 1, first["id"]]
    assert rows[1]["quantity"] == "0.00000001"  # never 1E-8
    assert Decimal(rows[0]["realized_pnl"]) == Decimal("-41.00")  # (90 - 100.25) x 4: a number, no quote
    assert rows[0]["realized_pnl"].startswith("-")
    assert datetime.fromisoformat(rows[0]["executed_at"]) == datetime.fromisoformat(last["executed_at"])
    assert rows[2]["executed_at"].endswith("+00:00")


async def test_a_trades_export_imports_into_another_user_as_the_same_trades(client, symbols):
    a, _ = symbols
    source, target = await funded(client), await funded(client)
    await trade(client, source, a, "buy", "3", "7.5")
    await trade(client, source, a, "sell", "1", "8")
    exported = (await client.get(f"/api/user/{source}/trades.csv")).content
    imported = await client.post(f"/api/user/{target}/trades/import", content=exported)
    assert imported.status_code == 201, imported.text
    theirs = (await client.get(f"/api/user/{target}/trades")).json()["items"]
    mine = (await client.get(f"/api/user/{source}/trades")).json()["items"]
    fields = ("symbol", "side", "quantity", "price", "realized_pnl", "executed_at")
    assert [[t[f] for f in fields] for t in theirs] == [[t[f] for f in fields] for t in mine]


async def test_holdings_export_is_the_portfolio_as_csv_with_its_cash_and_day_change(client, symbols):
    a, b = symbols
    me = await funded(client)
    await trade(client, me, a, "buy", "2", "10")
    await trade(client, me, b, "buy", "5", "1.5")
    eur = {"type": "deposit", "amount": "250.5", "currency": "EUR"}
    assert (await client.post(f"/api/user/{me}/cash", json=eur)).status_code == 201
    r = await client.get(f"/api/user/{me}/holdings.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == f'attachment; filename="folio-holdings-{me}.csv"'
    rows = read_csv(r)
    assert tuple(rows[0]) == HOLDING_COLUMNS
    portfolio = json.loads((await client.get(f"/api/user/{me}/portfolio")).content, parse_float=Decimal)
    by_symbol = {h["symbol"]: h for h in portfolio["holdings"]}
    lots = [row for row in rows if row["type"] == "holding"]
    assert {row["symbol"] for row in lots} == set(by_symbol) == {a, b}
    for row in lots:
        held = by_symbol[row["symbol"]]
        for column in ("quantity", "average_cost", "market_value", "day_change", "day_change_pct", "weight"):
            assert Decimal(row[column]) == held[column], column
        assert row["name"] == held["name"] or row["name"] == "'" + held["name"]
    cash = [row for row in rows if row["type"] == "cash"]
    assert [row["type"] for row in rows] == ["holding"] * 2 + ["cash"] * 2  # the holdings, then the cash
    assert (
        {row["currency"]: Decimal(row["market_value"]) for row in cash}
        == {c["currency"]: c["amount"] for c in portfolio["cash"]}
        == {"USD": Decimal(10_000_000) - 20 - Decimal("7.5"), "EUR": Decimal("250.5")}
    )
    for row in cash:
        line = next(c for c in portfolio["cash"] if c["currency"] == row["currency"])
        assert (Decimal(row["market_value_base"]), Decimal(row["weight"])) == (line["amount_base"], line["weight"])
        assert (row["symbol"], row["price"], Decimal(row["day_change"])) == ("", "", 0)


async def test_an_empty_history_is_the_header_alone(client):
    me = (await create(client))["id"]  # no cash either
    for path, columns in (("trades.csv", TRADE_COLUMNS), ("holdings.csv", HOLDING_COLUMNS)):
        r = await client.get(f"/api/user/{me}/{path}")
        assert r.content.decode() == ",".join(columns) + "\r\n"


async def test_the_ledger_file_has_a_line_per_posting_and_each_entry_balances(client, symbols, auth_headers):
    a, _ = symbols
    me = await funded(client)
    await trade(client, me, a, "buy", "3", "10")
    r = await client.get(f"/api/user/{me}/ledger.csv", headers=auth_headers(me))
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == f'attachment; filename="folio-ledger-{me}.csv"'
    lines = read_csv(r)
    ledger = (await client.get(f"/api/user/{me}/ledger", headers=auth_headers(me))).json()["items"]
    assert [int(line["entry_id"]) for line in lines] == [e["id"] for e in ledger for _ in e["postings"]]
    assert [line["kind"] for line in lines[::2]] == [e["kind"] for e in ledger]  # two postings each here
    sums: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        key = (line["entry_id"], line["currency"])
        sums[key] = sums.get(key, Decimal(0)) + Decimal(line["amount"])
    assert set(sums.values()) == {Decimal(0)}
    bought = [line for line in lines if line["trade_id"]]
    assert {line["account"] for line in bought} == {"cash", "market"}
    assert Decimal(next(line["amount"] for line in bought if line["account"] == "cash")) == Decimal(-30)


@pytest.mark.parametrize("path", ["trades.csv", "holdings.csv", "ledger.csv"])
async def test_csv_exports_are_the_users_own_and_404_for_no_user(client, auth_headers, path):
    me = await funded(client)
    assert_problem(await client.get(f"/api/user/{me}/{path}", headers=auth_headers(me + 1)), 403)
    assert_problem(await client.get(f"/api/user/{10**15}/{path}"), 404)


async def test_accept_text_csv_on_the_trades_and_the_portfolio_answers_their_files(client, symbols, auth_headers):
    a, _ = symbols
    me = await funded(client)
    await trade(client, me, a, "buy", "2", "10")
    await client.get(f"/api/user/{me}/portfolio", headers=auth_headers(me))  # a cached portfolio: the fast lane's
    for listed, file in (("trades", "trades.csv"), ("portfolio", "holdings.csv")):
        as_csv = await client.get(f"/api/user/{me}/{listed}", headers={"Accept": "text/csv", **auth_headers(me)})
        assert as_csv.status_code == 200, as_csv.text
        assert read_csv(as_csv) == read_csv(await client.get(f"/api/user/{me}/{file}"))
        as_json = await client.get(f"/api/user/{me}/{listed}", headers={"Accept": "application/json, text/csv;q=0.5"})
        assert as_json.headers["content-type"] == "application/json"
        assert as_json.json()
