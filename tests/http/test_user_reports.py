"""A user's own reports through the app: newest first, paged, for the user, its `reports` keys and operators."""

import uuid

import pytest

from tests.http.test_auth import assert_problem

pytestmark = [pytest.mark.http, pytest.mark.integration]


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def new_user(client) -> int:
    r = await client.post("/api/users", json={"email": f"r-{uuid.uuid4().hex[:12]}@example.com", "name": "Reader"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def request_reports(client, user: int, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        r = await client.post(f"/api/generate-report?user_id={user}")
        assert r.status_code == 202, r.text
        ids.append(r.json()["task_id"])
    return ids


async def test_a_user_pages_through_its_reports_newest_first(client, auth_headers):
    user = await new_user(client)
    empty = await client.get(f"/api/user/{user}/reports", headers=auth_headers(user))
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"items": [], "next_cursor": None}
    ids = await request_reports(client, user, 3)
    first = await client.get(f"/api/user/{user}/reports?limit=2", headers=auth_headers(user))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [r["task_id"] for r in page["items"]] == [ids[2], ids[1]]
    assert {r["user_id"] for r in page["items"]} == {user}
    assert page["items"][0]["status_url"] == f"/api/reports/{ids[2]}"
    rest = (await client.get(f"/api/user/{user}/reports", params={"cursor": page["next_cursor"]})).json()
    assert [r["task_id"] for r in rest["items"]] == [ids[0]]
    assert rest["next_cursor"] is None


async def test_only_the_user_its_reports_keys_and_operators_may_list(client, auth_headers):
    user, other = await new_user(client), await new_user(client)
    [report] = await request_reports(client, user, 1)
    assert (await client.get(f"/api/user/{user}/reports")).status_code == 200  # the client's operator token
    assert_problem(await client.get(f"/api/user/{user}/reports", headers=auth_headers(other)), 403)
    keys = {}
    for scope in ("read", "reports"):
        r = await client.post(f"/api/user/{user}/api-keys", json={"name": scope, "scopes": [scope]})
        assert r.status_code == 201, r.text
        keys[scope] = r.json()["key"]
    refused = await client.get(f"/api/user/{user}/reports", headers=bearer(keys["read"]))
    assert assert_problem(refused, 403)["detail"] == "this API key lacks the scope 'reports' that this route needs"
    listed = await client.get(f"/api/user/{user}/reports", headers=bearer(keys["reports"]))
    assert listed.status_code == 200, listed.text
    assert [r["task_id"] for r in listed.json()["items"]] == [report]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("limit=0", 400, "limit"),
        ("limit=501", 400, "limit"),
        ("cursor=not%20a%20cursor", 400, "cursor"),
        ("cursor=bogus", 422, "cursor"),
    ],
)
async def test_bad_paging_names_the_field(client, query, status, field):
    r = await client.get(f"/api/user/4301/reports?{query}")
    assert assert_problem(r, status)["errors"][0]["field"] == field


async def test_an_unknown_or_erased_user_is_a_404(client):
    assert_problem(await client.get("/api/user/999999999/reports"), 404)
    user = await new_user(client)
    await request_reports(client, user, 1)
    assert (await client.delete(f"/api/users/{user}")).status_code in (200, 204)
    assert_problem(await client.get(f"/api/user/{user}/reports"), 404)
