"""Users through the API: operators create, list and erase them; a user reads and updates itself."""

import uuid

import psycopg
import pytest

from gateway.trade_schemas import encode_cursor
from tests.http.test_auth import assert_problem

pytestmark = [pytest.mark.http, pytest.mark.integration]


def unique_email(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


async def create(client, **fields) -> dict:
    body = {"email": unique_email(), "name": "Ada Lovelace", **fields}
    r = await client.post("/api/users", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def audit_of(client, **query) -> list[dict]:
    r = await client.get("/api/ops/audit", params=query)
    assert r.status_code == 200, r.text
    return r.json()["items"]


# --- create ---------------------------------------------------------------------------------------------
async def test_an_operator_creates_a_user_who_gets_an_id_a_location_and_an_audit_entry(client):
    email = unique_email("Grace")
    r = await client.post(
        "/api/users",
        json={"email": email, "name": "Grace Hopper", "external_id": f"idp|{uuid.uuid4()}", "base_currency": "EUR"},
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert r.headers["location"] == f"/api/users/{user['id']}"
    assert user["id"] > 10_000  # past the demo users' ids
    assert (user["email"], user["name"], user["base_currency"], user["updated_at"]) == (
        email.lower(), "Grace Hopper", "EUR", None,
    )  # fmt: skip
    assert (await client.get(r.headers["location"])).json() == user
    [entry] = await audit_of(client, target=f"user:{user['id']}", action="user.create")
    assert (entry["actor"], entry["request_id"]) == ("operator:operator", r.headers["x-request-id"])


async def deposit(client, user_id: int, amount: str, currency: str = "USD", headers=None):
    body = {"type": "deposit", "amount": amount, "currency": currency}
    return await client.post(f"/api/user/{user_id}/cash", json=body, headers=headers or {})


async def test_a_new_user_has_an_empty_portfolio_and_trades(client):
    user = await create(client)
    portfolio = (await client.get(f"/api/user/{user['id']}/portfolio")).json()
    assert (portfolio["holdings"], portfolio["total_market_value"]) == ([], 0)
    order = {"symbol": "XOM", "side": "buy", "quantity": "2", "price": "1.1"}
    unfunded = await client.post(f"/api/user/{user['id']}/trades", json=order)
    assert unfunded.status_code == 422, unfunded.text  # a new user has no cash yet
    assert unfunded.json()["errors"][0]["field"] == "amount"
    assert (await deposit(client, user["id"], "2.2")).status_code == 201
    placed = await client.post(f"/api/user/{user['id']}/trades", json=order)
    assert placed.status_code == 201, placed.text
    assert placed.json()["cash"] == {"USD": 0}


@pytest.mark.parametrize("field", ["email", "external_id"])
async def test_a_duplicate_email_or_external_id_is_409_naming_the_field(client, field):
    taken = await create(client, external_id=f"idp|{uuid.uuid4()}")
    clash = {"email": unique_email(), "name": "Copy", field: taken[field].upper() if field == "email" else taken[field]}
    r = await client.post("/api/users", json=clash)
    body = assert_problem(r, 409)
    assert [e["field"] for e in body["errors"]] == [field]
    other = await create(client)
    r = await client.patch(f"/api/users/{other['id']}", json={field: taken[field]})
    assert [e["field"] for e in assert_problem(r, 409)["errors"]] == [field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address", "name": "X"}, "email"),
        ({"email": "a@b.example", "name": ""}, "name"),
        ({"email": "a@b.example", "name": "X", "base_currency": "usd"}, "base_currency"),
        ({"email": "a@b.example", "name": "X", "external_id": "has space"}, "external_id"),
        ({"email": "a@b.example", "name": "X", "role": "admin"}, "role"),
        ({"name": "X"}, "email"),
    ],
)
async def test_a_malformed_user_is_400_naming_the_field(client, body, field):
    r = await client.post("/api/users", json=body)
    assert field in {e["field"] for e in assert_problem(r, 400)["errors"]}


async def test_a_field_that_breaks_its_rule_past_the_schema_is_422_naming_it(client):
    # The schema's `$` lets a final newline through; the rule itself does not.
    r = await client.post("/api/users", json={"email": unique_email(), "name": "Ada\n"})
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["name"]


# --- who may do what ------------------------------------------------------------------------------------
async def test_users_may_not_create_list_or_erase_users_nor_read_the_audit_log(client, auth_headers):
    me = await create(client)
    mine = auth_headers(me["id"])
    calls = [
        ("POST", "/api/users", {"email": unique_email(), "name": "X"}),
        ("GET", "/api/users", None),
        ("DELETE", f"/api/users/{me['id']}", None),
        ("GET", "/api/ops/audit", None),
    ]
    for method, path, body in calls:
        r = await client.request(method, path, json=body, headers=mine)
        assert "operator" in assert_problem(r, 403)["detail"], (method, path)
    for method, path, _ in calls:
        request = client.build_request(method, path)
        del request.headers["authorization"]
        assert_problem(await client.send(request), 401)


async def test_a_user_reads_and_updates_itself_but_not_another_user(client, auth_headers):
    me, other = await create(client), await create(client)
    mine = auth_headers(me["id"])
    assert (await client.get(f"/api/users/{me['id']}", headers=mine)).json() == me
    r = await client.patch(f"/api/users/{me['id']}", json={"name": "Ada King", "base_currency": "GBP"}, headers=mine)
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["name"], changed["base_currency"], changed["email"]) == ("Ada King", "GBP", me["email"])
    assert changed["updated_at"] is not None
    [entry] = await audit_of(client, target=f"user:{me['id']}", action="user.update")
    assert (entry["actor"], entry["request_id"]) == (f"user:{me['id']}", r.headers["x-request-id"])
    for method in ("GET", "PATCH"):
        r = await client.request(
            method, f"/api/users/{other['id']}", json={} if method == "PATCH" else None, headers=mine
        )
        assert_problem(r, 403)
    assert (await client.get(f"/api/users/{other['id']}")).json() == other  # nothing changed


async def test_only_an_operator_links_a_user_to_an_identity_provider(client, auth_headers):
    me = await create(client)
    r = await client.patch(f"/api/users/{me['id']}", json={"external_id": "idp|mine"}, headers=auth_headers(me["id"]))
    assert [e["field"] for e in assert_problem(r, 403)["errors"]] == ["external_id"]
    subject = f"idp|{uuid.uuid4()}"
    linked = (await client.patch(f"/api/users/{me['id']}", json={"external_id": subject})).json()
    assert linked["external_id"] == subject
    unlinked = (await client.patch(f"/api/users/{me['id']}", json={"external_id": None})).json()
    assert unlinked["external_id"] is None


async def test_an_unknown_user_is_404(client):
    assert_problem(await client.get("/api/users/987654321"), 404)
    assert_problem(await client.patch("/api/users/987654321", json={"name": "X"}), 404)
    assert_problem(await client.delete("/api/users/987654321"), 404)


# --- list -----------------------------------------------------------------------------------------------
async def test_operators_page_users_newest_first_and_find_one_by_email(client):
    made = [await create(client) for _ in range(3)]
    newest = (await client.get("/api/users", params={"limit": 1})).json()["items"]
    assert newest[0]["id"] >= made[2]["id"]
    start = encode_cursor(made[2]["id"] + 1)  # a position just above this test's users: others may come later
    first = (await client.get("/api/users", params={"limit": 2, "cursor": start})).json()
    assert first["items"] == [made[2], made[1]]
    follow = (await client.get("/api/users", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert follow["items"][0] == made[0]
    found = (await client.get("/api/users", params={"email": made[1]["email"].upper()})).json()
    assert found == {"items": [made[1]], "next_cursor": None}
    assert (await client.get("/api/users", params={"email": unique_email()})).json()["items"] == []


# --- erasure --------------------------------------------------------------------------------------------
async def test_erasure_replaces_personal_data_keeps_financial_records_and_stops_the_users_token(
    client, auth_headers, settings
):
    me = await create(client, external_id=f"idp|{uuid.uuid4()}")
    uid, mine = me["id"], auth_headers(me["id"])
    trade = {"symbol": "XOM", "side": "buy", "quantity": "3", "price": "1.1"}
    assert (await deposit(client, uid, "10", headers=mine)).status_code == 201
    assert (await client.post(f"/api/user/{uid}/trades", json=trade, headers=mine)).status_code == 201
    assert (await client.get(f"/api/user/{uid}/portfolio", headers=mine)).status_code == 200  # now cached
    report = (await client.post(f"/api/generate-report?user_id={uid}", headers=mine)).json()["task_id"]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:  # as if its PDF were rendered
        conn.execute("UPDATE reports SET document = 'pdf', status = 'succeeded' WHERE id = %s", (report,))

    erased = await client.delete(f"/api/users/{uid}")
    assert erased.status_code == 204, erased.text

    assert_problem(await client.get(f"/api/users/{uid}"), 404)
    assert_problem(await client.get(f"/api/user/{uid}/portfolio"), 404)
    assert_problem(await client.get(f"/api/user/{uid}/export"), 404)
    assert_problem(await client.get(f"/api/user/{uid}/ledger"), 404)
    assert_problem(await client.delete(f"/api/users/{uid}"), 404)
    assert_problem(await client.get(f"/api/users/{uid}", headers=mine), 401)
    assert_problem(await client.post(f"/api/user/{uid}/trades", json=trade, headers=mine), 401)
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT email, name, external_id, erased_at IS NOT NULL, tokens_not_before IS NOT NULL FROM users"
            " WHERE id = %s",
            (uid,),
        ).fetchone()
        assert row == (f"erased-{uid}@erased.invalid", "Erased user", None, True, True)
        kept = conn.execute(
            "SELECT (SELECT count(*) FROM trades WHERE user_id = %s),"
            " (SELECT count(*) FROM holdings WHERE user_id = %s),"
            " (SELECT count(*) FROM reports WHERE user_id = %s AND document IS NULL),"
            " (SELECT count(*) FROM ledger_entries WHERE user_id = %s)",
            (uid, uid, uid, uid),
        ).fetchone()
        assert kept == (1, 1, 1, 2)  # the deposit and the trade's settlement stay too
    [entry] = await audit_of(client, target=f"user:{uid}", action="user.erase")
    assert (entry["actor"], entry["request_id"]) == ("operator:operator", erased.headers["x-request-id"])
    assert (await client.get("/api/users", params={"email": me["email"]})).json()["items"] == []
