"""Bearer authentication (401) and per-object authorisation (403), through the real app and servers."""

import subprocess
import sys
import time

import httpx
import jwt
import pytest

from tests.conftest import ROOT, TEST_JWT_SECRET

pytestmark = [pytest.mark.http, pytest.mark.integration]

PROBLEM = "application/problem+json"


def craft(*, key: str = TEST_JWT_SECRET, alg: str = "HS256", **changes: object) -> str:
    """A token like the app's own, with `changes` to its claims (None drops a claim)."""
    now = int(time.time())
    claims = {"sub": "1", "scope": "user", "iss": "folio", "aud": "folio-api", "iat": now, "nbf": now, "exp": now + 600}
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=alg)


def tampered() -> str:
    header, payload, signature = craft().split(".")
    other = jwt.utils.base64url_encode(jwt.utils.base64url_decode(payload).replace(b'"1"', b'"2"')).decode()
    return f"{header}.{other}.{signature}"


def alg_none() -> str:
    return jwt.encode({"sub": "1", "scope": "user", "iss": "folio", "aud": "folio-api", "exp": 2**31}, None, "none")


BAD_AUTHORIZATIONS = {
    "expired": f"Bearer {craft(iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200, exp=int(time.time()) - 60)}",
    "not-yet-valid": f"Bearer {craft(nbf=int(time.time()) + 3600, exp=int(time.time()) + 7200)}",
    "wrong-audience": f"Bearer {craft(aud='someone-else')}",
    "wrong-issuer": f"Bearer {craft(iss='mallory')}",
    "wrong-key": f"Bearer {craft(key='another-secret-of-at-least-32-bytes!!')}",
    "alg-none": f"Bearer {alg_none()}",
    "tampered": f"Bearer {tampered()}",
    "no-scope": f"Bearer {craft(scope=None)}",
    "unknown-scope": f"Bearer {craft(scope='admin')}",
    "no-expiry": f"Bearer {craft(exp=None)}",
    "garbage": "Bearer not.a.token",
    "basic-scheme": "Basic dXNlcjpwYXNz",
    "empty-bearer": "Bearer ",
}


async def get_without_token(client, path: str) -> httpx.Response:
    request = client.build_request("GET", path)
    del request.headers["authorization"]  # the shared client carries an operator token
    return await client.send(request)


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status
    assert body["request_id"] == r.headers["x-request-id"]
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
    return body


@pytest.mark.parametrize("path", ["/api/user/1/portfolio", "/api/user/1/trades", "/api/market-data/AAPL"])
async def test_a_missing_header_is_401_with_a_bearer_challenge(client, path):
    body = assert_problem(await get_without_token(client, path), 401)
    assert "Bearer" in body["detail"]


@pytest.mark.parametrize("case", sorted(BAD_AUTHORIZATIONS))
async def test_a_bad_token_is_401_on_the_fast_lane_and_the_regular_path_alike(client, auth_headers, case):
    await client.get("/api/user/1/portfolio", headers=auth_headers(1))  # the fast lane has user 1 cached
    bad = {"Authorization": BAD_AUTHORIZATIONS[case]}
    fast = assert_problem(await client.get("/api/user/1/portfolio", headers=bad), 401)
    regular = assert_problem(await client.get("/api/user/1/trades", headers=bad), 401)
    assert fast["detail"] == regular["detail"]
    assert "holdings" not in fast


async def test_expiry_and_not_before_are_named_in_the_detail(client):
    for case, words in (("expired", "expired"), ("not-yet-valid", "not valid yet")):
        r = await client.get("/api/user/1/trades", headers={"Authorization": BAD_AUTHORIZATIONS[case]})
        assert words in assert_problem(r, 401)["detail"]


async def test_a_user_reaches_their_own_portfolio_and_trades(client, auth_headers):
    mine = auth_headers(7)
    assert (await client.get("/api/user/7/portfolio", headers=mine)).status_code == 200
    assert (await client.get("/api/user/7/trades", headers=mine)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/user/8/portfolio"), ("GET", "/api/user/8/trades"), ("POST", "/api/user/8/trades")],
)
async def test_another_users_portfolio_and_trades_are_403(client, auth_headers, method, path):
    order = {"symbol": "XOM", "side": "buy", "quantity": "1", "price": "0.7"}
    r = await client.request(method, path, headers=auth_headers(7), json=order if method == "POST" else None)
    body = assert_problem(r, 403)
    assert "holdings" not in body
    assert "items" not in body


async def test_the_fast_lane_gives_the_same_403_as_the_regular_path(client, auth_headers):
    await client.get("/api/user/9/portfolio", headers=auth_headers(9))  # cached for the fast lane
    fast = assert_problem(await client.get("/api/user/9/portfolio", headers=auth_headers(10)), 403)
    regular = assert_problem(await client.get("/api/user/9/trades", headers=auth_headers(10)), 403)
    assert fast["detail"] == regular["detail"]


async def test_only_operators_ingest_quotes(client, auth_headers):
    batch = {"quotes": [{"symbol": "CASH-CAD", "price": "0.7"}]}
    r = await client.put("/api/market-data/quotes", json=batch, headers=auth_headers(7))
    assert "operator" in assert_problem(r, 403)["detail"]


async def test_any_user_reads_market_and_reference_data(client, auth_headers):
    for path in ("/api/market-data", "/api/market-data/CASH-CAD", "/api/static-data/instruments"):
        assert (await client.get(path, headers=auth_headers(7))).status_code == 200


async def test_an_operator_reaches_every_users_data(client, operator_headers):
    for path in ("/api/user/8/portfolio", "/api/user/8/trades", "/api/market-data", "/api/static-data/instruments"):
        assert (await client.get(path, headers=operator_headers)).status_code == 200


async def test_health_and_docs_stay_open(client):
    for path in ("/health", "/health/live", "/docs/openapi.json"):
        assert (await get_without_token(client, path)).status_code == 200


async def test_the_openapi_document_declares_bearer_authentication(client):
    doc = (await get_without_token(client, "/docs/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


def _cli_token(process_env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "token", *args],
        cwd=ROOT,
        env={**process_env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


async def test_the_token_cli_mints_tokens_the_app_accepts(client, process_env):
    user = {"Authorization": f"Bearer {_cli_token(process_env, '--user', '11', '--ttl', '120')}"}
    assert (await client.get("/api/user/11/portfolio", headers=user)).status_code == 200
    assert (await client.get("/api/user/12/portfolio", headers=user)).status_code == 403
    operator = {"Authorization": f"Bearer {_cli_token(process_env, '--operator')}"}
    assert (await client.get("/api/user/12/portfolio", headers=operator)).status_code == 200


async def test_a_read_only_operator_token_reads_everything_and_changes_nothing(client, process_env):
    reader = {"Authorization": f"Bearer {_cli_token(process_env, '--operator', '--subject', 'auditor', '--read-only')}"}
    assert (await client.get("/api/user/12/portfolio", headers=reader)).status_code == 200
    assert (await client.get("/api/ops/reports?status=failed", headers=reader)).status_code == 200
    refused = await client.post("/api/users", json={"email": "ro@example.com", "name": "Ro"}, headers=reader)
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]
    admin = {"Authorization": f"Bearer {_cli_token(process_env, '--operator', '--subject', 'auditor')}"}
    created = await client.post("/api/users", json={"email": "ro@example.com", "name": "Ro"}, headers=admin)
    assert created.status_code == 201, created.text


def test_every_web_process_shares_the_key_and_checks_tokens(two_web_processes, auth_headers):
    for p in two_web_processes:
        url = f"{p.url}/api/user/3/portfolio"
        assert httpx.get(url, headers=auth_headers(3), timeout=5).status_code == 200
        assert httpx.get(url, headers=auth_headers(4), timeout=5).status_code == 403
        r = httpx.get(url, timeout=5)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")


async def test_a_preflight_needs_no_token(client):
    request = client.build_request("OPTIONS", "/api/user/1/portfolio")
    del request.headers["authorization"]
    assert (await client.send(request)).status_code in (200, 204)
