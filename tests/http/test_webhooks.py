"""Webhook endpoints through the API: the secret once, changes, rotation, refusals, audit, SSRF refusal."""

import re
import uuid

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.conftest import with_settings

pytestmark = [pytest.mark.http, pytest.mark.integration]

PUBLIC_URL = "http://93.184.215.14/hooks/folio"  # a public address: registering resolves nothing
SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$")


async def new_user(client) -> int:
    r = await client.post("/api/users", json={"email": f"hooks-{uuid.uuid4().hex[:12]}@example.com", "name": "Hooks"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def register(client, user_id, headers, **body):
    body = {"url": PUBLIC_URL, "events": ["trade.created", "cash.moved"], **body}
    return await client.post(f"/api/user/{user_id}/webhooks", json=body, headers=headers)


async def test_an_endpoint_shows_its_secret_once_and_then_only_its_fields(client, auth_headers):
    user = await new_user(client)
    mine = auth_headers(user)
    created = await register(client, user, mine, description="books", events=["cash.moved", "cash.moved"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert SECRET.match(body["secret"])
    endpoint = body["endpoint"]
    assert (endpoint["url"], endpoint["events"], endpoint["description"]) == (PUBLIC_URL, ["cash.moved"], "books")
    assert endpoint["enabled"] is True
    listed = await client.get(f"/api/user/{user}/webhooks", headers=mine)
    assert listed.json() == {"items": [endpoint]}
    one = await client.get(f"/api/user/{user}/webhooks/{endpoint['id']}", headers=mine)
    assert one.json() == endpoint
    assert body["secret"] not in listed.text + one.text


async def test_a_patch_changes_the_fields_sent_and_a_delete_removes_the_endpoint(client, auth_headers):
    user = await new_user(client)
    mine = auth_headers(user)
    endpoint = (await register(client, user, mine)).json()["endpoint"]
    path = f"/api/user/{user}/webhooks/{endpoint['id']}"
    changed = await client.patch(path, json={"events": ["user.updated"], "enabled": False}, headers=mine)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["events"], changed.json()["enabled"], changed.json()["url"]) == (
        ["user.updated"], False, PUBLIC_URL,
    )  # fmt: skip
    assert changed.json()["disabled_reason"] == "disabled by its user"
    again = await client.patch(path, json={"enabled": True}, headers=mine)
    assert (again.json()["enabled"], again.json()["disabled_reason"]) == (True, None)
    assert (await client.delete(path, headers=mine)).status_code == 204
    assert (await client.get(path, headers=mine)).status_code == 404
    assert (await client.delete(path, headers=mine)).status_code == 404


async def test_a_rotation_gives_a_new_secret_and_says_until_when_the_old_one_signs(client, auth_headers):
    user = await new_user(client)
    mine = auth_headers(user)
    created = (await register(client, user, mine)).json()
    rotated = await client.post(f"/api/user/{user}/webhooks/{created['endpoint']['id']}/rotate-secret", headers=mine)
    assert rotated.status_code == 200, rotated.text
    assert SECRET.match(rotated.json()["secret"])
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    one = await client.get(f"/api/user/{user}/webhooks/{created['endpoint']['id']}", headers=mine)
    assert one.json()["previous_secret_expires_at"] == rotated.json()["previous_secret_expires_at"]


async def test_changes_are_audited_under_the_endpoint(client, auth_headers):
    user = await new_user(client)
    mine = auth_headers(user)
    endpoint = (await register(client, user, mine)).json()["endpoint"]
    await client.post(f"/api/user/{user}/webhooks/{endpoint['id']}/rotate-secret", headers=mine)
    target = f"user:{user}/webhook:{endpoint['id']}"
    r = await client.get("/api/ops/audit", params={"target": target})
    assert [(e["action"], e["actor"]) for e in r.json()["items"]] == [
        ("webhook.rotate", f"user:{user}"), ("webhook.create", f"user:{user}"),
    ]  # fmt: skip


async def test_another_users_token_is_refused_and_unknown_ids_are_named(client, auth_headers):
    user, other = await new_user(client), await new_user(client)
    endpoint = (await register(client, user, auth_headers(user))).json()["endpoint"]
    assert (await register(client, user, auth_headers(other))).status_code == 403
    theirs = await client.get(f"/api/user/{user}/webhooks/{endpoint['id']}", headers=auth_headers(other))
    assert theirs.status_code == 403
    not_theirs = await client.get(f"/api/user/{other}/webhooks/{endpoint['id']}", headers=auth_headers(other))
    assert not_theirs.status_code == 404
    bad = await client.get(f"/api/user/{user}/webhooks/not-a-uuid", headers=auth_headers(user))
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "webhook_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"url": "ftp://93.184.215.14/x"}, "url"), ({"events": ["trade.deleted"]}, "events"), ({"events": []}, "events")],
)
async def test_a_malformed_body_names_its_field(client, auth_headers, body, field):
    user = await new_user(client)
    r = await register(client, user, auth_headers(user), **body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text


@pytest.mark.parametrize("url", ["http://localhost:8080/hook", "http://127.0.0.1/hook", "http://169.254.169.254/x",
                                 "http://[::1]:8000/hook", "http://10.0.0.7/hook"])  # fmt: skip
async def test_a_name_or_address_that_is_not_public_is_refused_without_the_flag(client, auth_headers, url):
    user = await new_user(client)
    r = await register(client, user, auth_headers(user), url=url)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "url"
    assert (await client.get(f"/api/user/{user}/webhooks", headers=auth_headers(user))).json() == {"items": []}


async def test_with_webhook_allow_private_a_local_receiver_may_register(settings, operator_headers, auth_headers):
    app = create_app(with_settings(settings, webhook_allow_private=True))
    async with AsyncTestClient(app=app) as local:
        local.headers.update(operator_headers)
        user = await new_user(local)
        r = await register(local, user, auth_headers(user), url="http://localhost:8080/hook")
        assert r.status_code == 201, r.text


async def test_production_takes_https_only(settings, operator_headers, auth_headers):
    app = create_app(with_settings(settings, environment="production", api_key_secret="k" * 40))
    async with AsyncTestClient(app=app) as prod:
        prod.headers.update(operator_headers)
        user = await new_user(prod)
        r = await register(prod, user, auth_headers(user))
        assert r.status_code == 422, r.text
        assert "https" in r.json()["errors"][0]["message"]


async def test_deliveries_of_a_new_endpoint_are_empty_and_operators_see_dead_ones(client, auth_headers):
    user = await new_user(client)
    endpoint = (await register(client, user, auth_headers(user))).json()["endpoint"]
    r = await client.get(f"/api/user/{user}/webhooks/{endpoint['id']}/deliveries", headers=auth_headers(user))
    assert r.json() == {"items": [], "next_cursor": None}
    assert (await client.get("/api/ops/webhooks/dead-deliveries")).status_code == 200
    assert (await client.get("/api/ops/webhooks/dead-deliveries", headers=auth_headers(user))).status_code == 403
    missing = f"/api/user/{user}/webhooks/{endpoint['id']}/deliveries/msg_{'0' * 32}/redeliver"
    assert (await client.post(missing, headers=auth_headers(user))).status_code == 404


async def test_erasing_a_user_deletes_their_endpoints(client, auth_headers, settings):
    user = await new_user(client)
    endpoint = (await register(client, user, auth_headers(user))).json()["endpoint"]
    assert (await client.delete(f"/api/users/{user}")).status_code == 204
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM webhook_endpoints WHERE id = %s", (endpoint["id"],))
        assert await cur.fetchone() == (0,)
