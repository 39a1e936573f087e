"""Importing trades from CSV files through the API: all rows or none, each row once, faults by row and column."""

import asyncio
import json
from decimal import Decimal

import pytest

from tests.http.test_auth import assert_problem
from tests.http.test_users import audit_of, create

pytestmark = [pytest.mark.http, pytest.mark.integration]
HEADER = "executed_at,symbol,side,quantity,price\r\n"


async def funded(client) -> int:
    """A new user with USD cash enough for this file's trades (imported buys settle in cash)."""
    user = (await create(client))["id"]
    deposit = {"type": "deposit", "amount": "10000000", "currency": "USD"}
    assert (await client.post(f"/api/user/{user}/cash", json=deposit)).status_code == 201
    return user


def dec(response):
    return json.loads(response.content, parse_float=Decimal)


@pytest.fixture(scope="module")
async def symbols(client) -> list[str]:
    """Equities of the instruments list: a new user holds none of them."""
    instruments = (await client.get("/api/static-data/instruments")).json()["instruments"]
    return [i["symbol"] for i in instruments if i["asset_class"] == "equity" and i["currency"] == "USD"][:3]


async def upload(client, user_id: int, text: str, headers=None, **query):
    body = text.encode() if isinstance(text, str) else text
    return await client.post(
        f"/api/user/{user_id}/trades/import",
        content=body,
        params=query,
        headers={"Content-Type": "text/csv", **(headers or {})},
    )


async def held(client, user_id: int, symbol: str) -> Decimal | None:
    portfolio = dec(await client.get(f"/api/user/{user_id}/portfolio"))
    return next((h["quantity"] for h in portfolio["holdings"] if h["symbol"] == symbol), None)


async def test_an_import_books_every_row_in_date_order_and_again_books_nothing(client, symbols, auth_headers):
    a = symbols[0]
    me = await funded(client)
    # Out of order on purpose: the sell is booked after the buys it needs.
    text = HEADER + f"2024-03-01,{a},sell,4,12.5\r\n2024-01-15T14:30:00Z,{a},buy,10,10\r\n2024-02-01,{a},buy,10,11\r\n"
    first = await upload(client, me, text, headers=auth_headers(me))
    assert first.status_code == 201, first.text
    body = dec(first)
    assert [b["row"] for b in body["booked"]] == [3, 4, 2]
    assert [b["executed_at"][:10] for b in body["booked"]] == ["2024-01-15", "2024-02-01", "2024-03-01"]
    assert body["booked"][-1]["realized_pnl"] == Decimal("8")  # (12.5 - 10.5) x 4
    assert body["booked"][-1]["holding"]["quantity"] == Decimal("16")
    assert (body["duplicates"], body["errors"], body["rows"]) == ([], [], 3)
    assert await held(client, me, a) == Decimal("16")
    listed = (await client.get(f"/api/user/{me}/trades")).json()["items"]
    assert sorted(t["id"] for t in listed) == sorted(b["trade_id"] for b in body["booked"])

    again = await upload(client, me, text, headers=auth_headers(me))
    assert again.status_code == 200, again.text
    assert (again.json()["booked"], again.json()["duplicates"]) == ([], [3, 4, 2])
    assert await held(client, me, a) == Decimal("16")
    [entry] = await audit_of(client, action="trade.import", target=f"user:{me}")
    assert (entry["actor"], entry["request_id"]) == (f"user:{me}", first.headers["x-request-id"])


async def test_identical_lines_are_separate_fills_and_a_grown_file_books_only_its_new_lines(client, symbols):
    a = symbols[1]
    me = await funded(client)
    line = f"2024-05-02T10:00:00+02:00,{a},buy,1.5,20\r\n"
    assert len((await upload(client, me, HEADER + line * 2)).json()["booked"]) == 2
    grown = await upload(client, me, HEADER + line * 3 + f"2024-05-03,{a},sell,1,21\r\n")
    assert [(b["row"], b["side"]) for b in grown.json()["booked"]] == [(4, "buy"), (5, "sell")]
    assert grown.json()["duplicates"] == [2, 3]
    assert await held(client, me, a) == Decimal("3.5")


async def test_a_dry_run_names_each_faulty_row_and_column_and_books_nothing(client, symbols):
    a, b = symbols[0], symbols[1]
    me = await funded(client)
    text = HEADER + (
        f"2024-01-02,{a},buy,10,100\r\n"  # fine
        f"2024-01-03,{a},buy,ten,100\r\n"  # row 3: quantity
        "2024-01-04,NOPE0,buy,1,1\r\n"  # row 4: an unknown symbol
        f"2024-01-05,{b},sell,1,1\r\n"  # row 5: selling what is not held
        f"05/01/2024,{a},buy,1,1\r\n"  # row 6: not an ISO date
        f"2024-01-07,{a},hold,1,1\r\n"  # row 7: side
        f"2024-01-08,{a},buy,1,0.000000001\r\n"  # row 8: too precise
    )
    dry = await upload(client, me, text, dry_run="true")
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["dry_run"] is True
    assert [(b["row"], b["trade_id"]) for b in body["booked"]] == [(2, None)]
    faults = [(e["row"], e["column"]) for e in body["errors"]]
    assert faults == [(3, "quantity"), (4, "symbol"), (5, "quantity"), (6, "executed_at"), (7, "side"), (8, "price")]
    assert await held(client, me, a) is None

    real = await upload(client, me, text)
    problem = assert_problem(real, 422)
    assert [(e["row"], e["column"], e["field"]) for e in problem["errors"]][:2] == [
        (3, "quantity", "quantity"),
        (4, "symbol", "symbol"),
    ]
    assert await held(client, me, a) is None
    assert (await client.get(f"/api/user/{me}/trades")).json()["items"] == []


async def test_one_row_that_cannot_be_booked_books_none_of_the_file(client, symbols):
    a = symbols[2]
    me = await funded(client)
    text = HEADER + f"2024-01-02,{a},buy,5,10\r\n2024-01-03,{a},sell,6,10\r\n"
    problem = assert_problem(await upload(client, me, text), 422)
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [(3, "quantity")]
    assert (await client.get(f"/api/user/{me}/trades")).json()["items"] == []
    assert await audit_of(client, action="trade.import", target=f"user:{me}") == []


async def test_a_row_naming_a_currency_is_a_422_naming_its_symbol_and_books_nothing(client, symbols):
    """`CASH-EUR` is the euro's exchange rate, not a lot to hold: cash moves through POST /cash."""
    a = symbols[2]
    me = await funded(client)
    text = HEADER + f"2024-01-02,{a},buy,5,10\r\n2024-01-03,CASH-EUR,buy,100,1.08\r\n"
    problem = assert_problem(await upload(client, me, text), 422)
    [error] = problem["errors"]
    assert (error["row"], error["column"], error["field"]) == (3, "symbol", "symbol")
    assert "CASH-EUR" in error["message"]
    assert "cash" in error["message"]
    assert (await client.get(f"/api/user/{me}/trades")).json()["items"] == []
    assert await held(client, me, a) is None


@pytest.mark.parametrize(
    ("text", "row", "column"),
    [
        ("symbol,side,quantity,price\r\nX,buy,1,1\r\n", 1, "executed_at"),
        (HEADER + "2024-01-02,X,buy,1\r\n", 2, ""),
        ('executed_at,symbol,side,quantity,price\r\n2024-01-02,"X,buy,1,1\r\n', 2, ""),
    ],
)
async def test_a_file_of_another_shape_is_a_422_naming_the_row(client, text, row, column):
    me = await funded(client)
    problem = assert_problem(await upload(client, me, text), 422)
    assert (problem["errors"][0]["row"], problem["errors"][0]["column"]) == (row, column)
    dry = await upload(client, me, text, dry_run="true")
    if row == 1:  # not a file of this format: no dry run of it either
        assert assert_problem(dry, 422)["errors"] == problem["errors"]
    else:
        assert (dry.status_code, dry.json()["errors"]) == (200, problem["errors"])


async def test_a_body_empty_or_not_utf8_is_a_400_and_one_over_the_limits_a_413(client, settings):
    me = await funded(client)
    problem = assert_problem(await upload(client, me, HEADER.encode() + b"2024-01-02,\xff,buy,1,1\r\n"), 400)
    assert problem["errors"][0]["field"] == "body"
    assert assert_problem(await upload(client, me, b"", dry_run="true"), 400)["errors"][0]["field"] == "body"
    huge = HEADER + "#" * settings.max_request_body_bytes
    assert_problem(await upload(client, me, huge), 413)
    many = HEADER + "2024-01-02,X,buy,1,1\r\n" * (settings.trade_import_max_rows + 1)
    problem = assert_problem(await upload(client, me, many, dry_run="true"), 413)
    assert problem["errors"][0]["field"] == "body"
    assert (await client.get(f"/api/user/{me}/trades")).json()["items"] == []


async def test_an_unknown_format_is_a_400_and_another_users_file_a_403(client, auth_headers):
    me = await funded(client)
    assert_problem(await upload(client, me, HEADER, format="excel"), 400)
    assert_problem(await upload(client, me, HEADER, headers=auth_headers(me + 1)), 403)
    assert_problem(await upload(client, 10**15, HEADER), 404)


async def test_the_same_file_sent_twice_at_once_is_booked_once(client, symbols):
    a = symbols[0]
    me = await funded(client)
    text = HEADER + "".join(f"2024-06-{day:02d},{a},buy,1,{day}\r\n" for day in range(1, 21))
    first, second = await asyncio.gather(upload(client, me, text), upload(client, me, text))
    assert sorted((first.status_code, second.status_code)) == [200, 201]
    assert sorted([len(first.json()["booked"]), len(second.json()["booked"])]) == [0, 20]
    assert await held(client, me, a) == Decimal(20)
    assert len((await client.get(f"/api/user/{me}/trades", params={"limit": 100})).json()["items"]) == 20
