"""The audit log through the API: every change recorded with who, what, which request; operators' reads too;
`python -m cli audit verify` on the session's chain; the data export, streamed."""

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.conftest import ROOT
from tests.http.test_auth import assert_problem
from tests.http.test_users import audit_of, create, deposit

pytestmark = [pytest.mark.http, pytest.mark.integration]


async def entries_of_request(client, request_id: str, **query) -> list[dict]:
    return [e for e in await audit_of(client, **query, limit=500) if e["request_id"] == request_id]


async def eventually_audited(client, request_id: str, **query) -> list[dict]:
    """Operators' reads are appended in batches, off the request's path: within a second or so."""
    for _ in range(50):
        if found := await entries_of_request(client, request_id, **query):
            return found
        await asyncio.sleep(0.1)
    return []


async def test_a_trade_is_audited_under_its_request_id_and_a_refused_one_leaves_no_entry(client, auth_headers):
    me = await create(client)
    mine = auth_headers(me["id"])
    order = {"symbol": "XOM", "side": "buy", "quantity": "4", "price": "1.2"}
    assert (await deposit(client, me["id"], "4.8", headers=mine)).status_code == 201
    placed = await client.post(f"/api/user/{me['id']}/trades", json=order, headers=mine)
    refused = await client.post(
        f"/api/user/{me['id']}/trades", json={**order, "side": "sell", "quantity": "9"}, headers=mine
    )
    assert (placed.status_code, refused.status_code) == (201, 422)
    [entry] = await entries_of_request(client, placed.headers["x-request-id"], action="trade.place")
    assert (entry["actor"], entry["target"]) == (f"user:{me['id']}", f"user:{me['id']}/trade:{placed.json()['id']}")
    assert await entries_of_request(client, refused.headers["x-request-id"]) == []


async def test_a_quote_ingest_is_audited_as_the_operators(client):
    r = await client.put("/api/market-data/quotes", json={"quotes": [{"symbol": "CASH-EUR", "price": "1.09"}]})
    assert r.status_code == 200, r.text
    [entry] = await entries_of_request(client, r.headers["x-request-id"], action="quotes.ingest")
    assert (entry["actor"], entry["target"]) == ("operator:operator", "quotes")


async def test_an_operators_reads_of_a_users_data_are_audited_and_a_users_own_reads_are_not(client, auth_headers):
    me = await create(client)
    operator_reads = [
        await client.get(f"/api/user/{me['id']}/portfolio"),  # the fast lane
        await client.get(f"/api/user/{me['id']}/portfolio"),
        await client.get(f"/api/users/{me['id']}"),
        await client.get(f"/api/user/{me['id']}/trades"),
    ]
    own = await client.get(f"/api/users/{me['id']}", headers=auth_headers(me["id"]))
    for r in operator_reads:
        assert r.status_code == 200, r.text
        [entry] = await eventually_audited(client, r.headers["x-request-id"], target=f"user:{me['id']}")
        assert (entry["actor"], entry["action"]) == ("operator:operator", "user.read")
    assert operator_reads[1].headers["x-cache"] == "hit"
    assert await entries_of_request(client, own.headers["x-request-id"]) == []
    listed = await client.get("/api/users", params={"limit": 1})
    [entry] = await eventually_audited(client, listed.headers["x-request-id"], target="users")
    assert entry["action"] == "user.read"


async def test_operators_filter_and_page_the_audit_log(client):
    users = [await create(client) for _ in range(3)]
    since = datetime.now(UTC) - timedelta(minutes=5)
    created = await audit_of(client, action="user.create", actor="operator:operator", since=since.isoformat(), limit=2)
    assert len(created) == 2
    assert [e["target"] for e in created] == [f"user:{users[2]['id']}", f"user:{users[1]['id']}"]
    first = (await client.get("/api/ops/audit", params={"limit": 2})).json()
    second = (await client.get("/api/ops/audit", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert second["items"][0]["id"] < first["items"][-1]["id"]
    assert second["items"][0]["hash"] == first["items"][-1]["prev_hash"]  # the chain, seen through the API
    assert (await client.get("/api/ops/audit", params={"since": "2999-01-01T00:00:00Z"})).json()["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"actor": "user:1\n"}, "actor"),
        ({"limit": 0}, "limit"),
        ({"cursor": "x"}, "cursor"),
    ],
)
async def test_a_malformed_audit_query_is_400_naming_the_parameter(client, query, field):
    body = assert_problem(await client.get("/api/ops/audit", params=query), 400)
    assert field in {e["field"] for e in body["errors"]}


def test_the_cli_verifies_the_sessions_chain(process_env):
    done = subprocess.run(
        [sys.executable, "-m", "cli", "audit", "verify"],
        cwd=ROOT,
        env=process_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "the chain is intact" in done.stdout


# --- export ---------------------------------------------------------------------------------------------
async def test_the_export_holds_everything_about_the_user(client, auth_headers):
    me = await create(client, external_id=f"idp|{uuid.uuid4()}")
    mine = auth_headers(me["id"])
    assert (await deposit(client, me["id"], "3.9", headers=mine)).status_code == 201
    for quantity in ("1", "2"):
        order = {"symbol": "XOM", "side": "buy", "quantity": quantity, "price": "1.3"}
        assert (await client.post(f"/api/user/{me['id']}/trades", json=order, headers=mine)).status_code == 201
    report = (await client.post(f"/api/generate-report?user_id={me['id']}", headers=mine)).json()
    key = await client.post(f"/api/user/{me['id']}/api-keys", json={"name": "exporter"}, headers=mine)
    assert key.status_code == 201, key.text
    r = await client.get(f"/api/user/{me['id']}/export", headers=mine)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == f'attachment; filename="folio-user-{me["id"]}.json"'
    assert r.headers["cache-control"] == "no-store"
    document = r.json()
    assert document["format"] == "folio-export/1"
    assert document["user"] == me
    assert document["holdings"] == [{"symbol": "XOM", "quantity": 3, "average_cost": 1.3}]
    assert [t["quantity"] for t in document["trades"]] == [2, 1]
    assert [x["task_id"] for x in document["reports"]] == [report["task_id"]]
    assert document["api_keys"] == [{k: v for k, v in key.json().items() if k != "key"}]
    ledger = (await client.get(f"/api/user/{me['id']}/ledger", headers=mine)).json()["items"]
    assert document["ledger"] == ledger
    assert key.json()["key"] not in r.text  # never the secret
    assert {e["action"] for e in document["audit"]} == {"user.create", "cash.move", "trade.place", "apikey.create"}
    assert_problem(await client.get(f"/api/user/{me['id'] + 1}/export", headers=mine), 403)


def test_a_large_export_streams_in_chunks(two_web_processes, operator_headers, settings):
    """A user with thousands of trades: the document arrives in pieces (chunked), and whole."""
    web = two_web_processes[0]
    with httpx.Client(base_url=web.url, headers=operator_headers, timeout=30) as http:
        me = http.post("/api/users", json={"email": f"big-{uuid.uuid4().hex[:8]}@example.com", "name": "Big"}).json()
        _insert_trades(settings.database_url, me["id"], 3_000)
        with http.stream("GET", f"/api/user/{me['id']}/export", headers={"Accept-Encoding": "identity"}) as r:
            assert r.status_code == 200
            assert r.headers.get("transfer-encoding") == "chunked"
            assert "content-length" not in r.headers
            pieces = list(r.iter_raw())
    assert len(pieces) > 3
    document = json.loads(b"".join(pieces))
    assert len(document["trades"]) == 3_000
    assert [t["id"] for t in document["trades"]] == sorted((t["id"] for t in document["trades"]), reverse=True)


def _insert_trades(database_url: str, user_id: int, count: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO trades (user_id, instrument_id, side, quantity, price)"
            " SELECT %s, (SELECT id FROM instruments WHERE symbol = 'XOM'), 'buy', 1, 1.1"
            " FROM generate_series(1, %s)",
            (user_id, count),
        )
