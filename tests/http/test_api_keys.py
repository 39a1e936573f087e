"""API keys through the real app and servers: create, list, use, revoke; scopes; who may manage whose keys."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.http.test_auth import assert_problem

pytestmark = [pytest.mark.http, pytest.mark.integration]

KEYS = "/api/user/{}/api-keys"


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def create(client, user: int, headers: dict[str, str] | None = None, **body: object) -> httpx.Response:
    return await client.post(KEYS.format(user), json={"name": "ci", **body}, headers=headers)


async def new_key(client, user: int, **body: object) -> dict:
    r = await create(client, user, **body)  # the client's own operator token
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_user_creates_lists_uses_and_revokes_a_key(client, auth_headers):
    user = 7301
    r = await create(client, user, auth_headers(user), name="nightly export", scopes=["read", "reports"])
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["key"].startswith(f"folio_{created['prefix']}_")
    assert (created["name"], created["scopes"], created["last_used_at"], created["expires_at"]) == (
        "nightly export", ["read", "reports"], None, None,
    )  # fmt: skip
    assert r.headers["cache-control"] == "no-store"
    listed = await client.get(KEYS.format(user), headers=auth_headers(user))
    assert listed.status_code == 200
    [item] = [k for k in listed.json()["items"] if k["id"] == created["id"]]
    assert item == {k: v for k, v in created.items() if k != "key"}
    assert created["key"].split("_")[-1] not in listed.text  # never the secret again
    key = bearer(created["key"])
    for path in (f"/api/user/{user}/portfolio", f"/api/user/{user}/portfolio", f"/api/user/{user}/trades"):
        assert (await client.get(path, headers=key)).status_code == 200, path  # both lanes
    gone = await client.delete(f"{KEYS.format(user)}/{created['id']}", headers=auth_headers(user))
    assert gone.status_code == 204
    for path in (f"/api/user/{user}/portfolio", f"/api/user/{user}/trades"):
        body = assert_problem(await client.get(path, headers=key), 401)
        assert body["detail"] == "the API key has been revoked"
    assert created["id"] not in (await client.get(KEYS.format(user), headers=auth_headers(user))).text
    again = await client.delete(f"{KEYS.format(user)}/{created['id']}", headers=auth_headers(user))
    assert assert_problem(again, 404)["errors"][0]["field"] == "key_id"


async def test_malformed_unknown_and_expired_keys_are_401(client):
    user = 7302
    unknown = "folio_" + "a" * 16 + "_" + "b" * 32
    real = (await new_key(client, user))["key"]
    cases = {
        "folio_nonsense": "the API key is malformed",
        real[:-1] + ("a" if real[-1] != "a" else "b"): "the API key is not valid",  # a wrong secret
        unknown: "the API key is not valid",
    }
    for credential, detail in cases.items():
        for path in (f"/api/user/{user}/portfolio", f"/api/user/{user}/trades"):
            assert assert_problem(await client.get(path, headers=bearer(credential)), 401)["detail"] == detail
    expires = datetime.now(UTC) + timedelta(seconds=2)
    expiring = (await new_key(client, user, expires_at=expires.isoformat()))["key"]
    assert (await client.get(f"/api/user/{user}/portfolio", headers=bearer(expiring))).status_code == 200
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)
    body = assert_problem(await client.get(f"/api/user/{user}/portfolio", headers=bearer(expiring)), 401)
    assert body["detail"] == "the API key has expired"


async def test_a_request_outside_the_keys_scopes_is_a_403_naming_the_scope(client):
    user = 7303
    reader = (await new_key(client, user))["key"]  # `read` by default
    trader = (await new_key(client, user, scopes=["trade"]))["key"]
    reporter = (await new_key(client, user, scopes=["reports"]))["key"]
    order = {"symbol": "XOM", "side": "buy", "quantity": "1", "price": "1.1"}
    refused = {
        ("POST", f"/api/user/{user}/trades", reader): "trade",
        ("POST", f"/api/generate-report?user_id={user}", reader): "reports",
        ("GET", f"/api/reports/{uuid.uuid4()}", reader): "reports",
        ("GET", f"/api/user/{user}/portfolio", trader): "read",  # the fast lane leaves it to the guard
        ("GET", f"/api/user/{user}/trades", trader): "read",
        ("GET", "/api/market-data/CASH-EUR", trader): "read",
        ("GET", "/api/market-data", reporter): "read",
        ("GET", "/api/static-data/instruments", reporter): "read",
    }
    for (method, path, key), scope in refused.items():
        r = await client.request(method, path, headers=bearer(key), json=order if "trades" in path else None)
        assert assert_problem(r, 403)["detail"] == f"this API key lacks the scope '{scope}' that this route needs"
    placed = await client.post(f"/api/user/{user}/trades", headers=bearer(trader), json=order)
    assert placed.status_code == 201, placed.text
    # Past the guard (no report is requested here: a worker later in the session would mail it).
    assert (await client.get(f"/api/reports/{uuid.uuid4()}", headers=bearer(reporter))).status_code == 404
    assert (await client.get("/api/market-data/CASH-EUR", headers=bearer(reader))).status_code == 200


async def test_keys_reach_only_their_own_user_and_never_manage_keys_or_sessions(client, auth_headers):
    mine, theirs = 7304, 7305
    key = bearer((await new_key(client, mine, scopes=["read", "trade", "reports"]))["key"])
    their_key = await new_key(client, theirs)
    assert (await client.get(KEYS.format(mine), headers=key)).status_code == 200  # listing is a read
    for method, path in (
        ("GET", f"/api/user/{theirs}/portfolio"),
        ("GET", KEYS.format(theirs)),
        ("GET", "/api/ops/reports"),
    ):
        assert_problem(await client.request(method, path, headers=key), 403)
    for method, path in (
        ("POST", KEYS.format(mine)),
        ("DELETE", f"{KEYS.format(mine)}/{their_key['id']}"),
        ("POST", f"/api/user/{mine}/sessions/revoke"),
    ):
        body = await client.request(method, path, headers=key, json={"name": "x"} if method == "POST" else None)
        assert assert_problem(body, 403)["detail"] == "an API key may not call this route: use a token"
    # Another user's token: 403 on each of the four routes; the operator's (the client's own) manages any.
    for method, path in (
        ("GET", KEYS.format(theirs)),
        ("POST", KEYS.format(theirs)),
        ("DELETE", f"{KEYS.format(theirs)}/{their_key['id']}"),
        ("POST", f"/api/user/{theirs}/sessions/revoke"),
    ):
        r = await client.request(method, path, headers=auth_headers(mine), json={"name": "x"})
        assert assert_problem(r, 403)["detail"] == f"this token may not access user {theirs}'s data"
    assert (await client.delete(f"{KEYS.format(theirs)}/{their_key['id']}")).status_code == 204


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, 422, "expires_at"),
        ({"name": "x", "expires_at": "2999-01-01T00:00:00"}, 400, "expires_at"),  # no time zone
        ({"name": "x", "scopes": ["admin"]}, 400, "scopes[0]"),
        ({"name": "x", "scopes": []}, 400, "scopes"),
        ({"name": ""}, 400, "name"),
        ({"name": "x" * 101}, 400, "name"),
        ({"name": "tab\there"}, 400, "name"),
        ({"name": "x", "owner": 1}, 400, "owner"),
        ({"scopes": ["read"]}, 400, "name"),
    ],
)
async def test_a_bad_key_request_is_refused_naming_the_field(client, body, status, field):
    r = await client.post(KEYS.format(7306), json=body)
    assert assert_problem(r, status)["errors"][0]["field"] == field


async def test_unknown_users_and_keys_are_404_and_a_key_id_must_be_a_uuid(client):
    assert_problem(await create(client, 9_000_000_001), 404)
    assert_problem(await client.get(KEYS.format(9_000_000_001)), 404)
    assert_problem(await client.delete(f"{KEYS.format(7306)}/{uuid.uuid4()}"), 404)
    body = assert_problem(await client.delete(f"{KEYS.format(7306)}/not-a-uuid"), 400)
    assert body["errors"][0]["field"] == "key_id"


async def test_a_user_holds_at_most_the_allowed_number_of_keys(client, settings):
    user = 7307
    for _ in range(settings.api_keys_per_user):
        await new_key(client, user)
    full = assert_problem(await create(client, user), 409)
    assert f"already has {settings.api_keys_per_user} API keys" in full["detail"]
    first = (await client.get(KEYS.format(user))).json()["items"][-1]
    assert (await client.delete(f"{KEYS.format(user)}/{first['id']}")).status_code == 204
    await new_key(client, user)
