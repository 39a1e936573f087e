"""Revocation through the real app and servers: a user's sessions, keys after revocation, processes that
start later, fail-closed with the database gone, and `last_used_at` written in batches."""

import asyncio
import math
import time
from datetime import datetime

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.conftest import with_settings
from tests.http.test_api_keys import KEYS, bearer, new_key
from tests.http.test_auth import assert_problem
from tests.integration.test_faults import proxy, through  # noqa: F401 - the proxy fixture

pytestmark = [pytest.mark.http, pytest.mark.integration]

REVOKED = "the token has been revoked: the user's sessions were revoked after it was issued"


def revoke(user: int) -> str:
    return f"/api/user/{user}/sessions/revoke"


async def wait_past(epoch_s: float) -> None:
    """Until the next whole second after `epoch_s`: a token's `iat` has whole seconds."""
    await asyncio.sleep(max(0.0, math.floor(epoch_s) + 1 - time.time()) + 0.05)


async def test_a_user_revokes_their_sessions_and_only_later_tokens_work(client, token):
    user = 7321
    old = bearer(token(user))
    key = bearer((await new_key(client, user))["key"])
    assert (await client.get(f"/api/user/{user}/portfolio", headers=old)).status_code == 200  # remembered
    r = await client.post(revoke(user), headers=old)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_id"] == user
    watermark = datetime.fromisoformat(body["tokens_not_before"]).timestamp()
    assert abs(watermark - time.time()) < 5
    for path in (f"/api/user/{user}/portfolio", f"/api/user/{user}/trades", "/api/market-data/CASH-EUR"):
        assert assert_problem(await client.get(path, headers=old), 401)["detail"] == REVOKED
    assert (await client.get(f"/api/user/{user}/portfolio", headers=key)).status_code == 200  # keys stay
    await wait_past(watermark)
    assert (await client.get(f"/api/user/{user}/portfolio", headers=bearer(token(user)))).status_code == 200


async def test_operators_revoke_anyones_sessions_and_unknown_users_are_404(client, token):
    user = 7322
    old = bearer(token(user))
    assert (await client.post(revoke(user))).status_code == 200  # the client's operator token
    assert_problem(await client.get(f"/api/user/{user}/trades", headers=old), 401)
    assert (await client.get("/api/ops/reports")).status_code == 200  # the operator's own token is untouched
    assert_problem(await client.post(revoke(9_000_000_002)), 404)


async def test_a_process_that_starts_after_a_revocation_refuses_the_old_tokens_and_keys(client, settings, token):
    user = 7323
    old = bearer(token(user))
    created = await new_key(client, user)
    assert (await client.post(revoke(user))).status_code == 200
    assert (await client.delete(f"{KEYS.format(user)}/{created['id']}")).status_code == 204
    async with AsyncTestClient(app=create_app(settings)) as fresh:  # nothing in its memory yet
        assert assert_problem(await fresh.get(f"/api/user/{user}/portfolio", headers=old), 401)["detail"] == REVOKED
        body = assert_problem(await fresh.get(f"/api/user/{user}/portfolio", headers=bearer(created["key"])), 401)
        assert body["detail"] == "the API key has been revoked"


async def test_known_revocations_stay_refused_while_the_database_is_gone(client, settings, servers, proxy, token):  # noqa: F811
    user = 7324
    s = with_settings(settings, database_url=through(proxy, servers.database_url), database_pool_size=2)
    revoked_key, kept_key = (await new_key(client, user))["key"], (await new_key(client, user))["key"]
    old = bearer(token(user))
    portfolio = f"/api/user/{user}/portfolio"
    async with AsyncTestClient(app=create_app(s), timeout=10) as other:  # another process, its own database route
        for credential in (bearer(revoked_key), bearer(kept_key), old):
            assert (await other.get(portfolio, headers=credential)).status_code == 200  # all remembered
        listed = (await client.get(KEYS.format(user))).json()["items"]
        revoked_id = next(k["id"] for k in listed if revoked_key.startswith(f"folio_{k['prefix']}_"))
        assert (await client.delete(f"{KEYS.format(user)}/{revoked_id}")).status_code == 204
        assert (await client.post(revoke(user))).status_code == 200
        proxy.cut()
        body = assert_problem(await other.get(portfolio, headers=bearer(revoked_key)), 401)
        assert body["detail"] == "the API key has been revoked"
        assert assert_problem(await other.get(portfolio, headers=old), 401)["detail"] == REVOKED
        assert (await other.get(portfolio, headers=bearer(kept_key))).status_code == 200  # from its caches
        unseen = (await new_key(client, user))["key"]
        for path in (portfolio, f"/api/user/{user}/trades"):  # cannot be checked: not let in, on either lane
            assert assert_problem(await other.get(path, headers=bearer(unseen)), 503)["detail"]
        proxy.restore()


async def test_last_used_at_is_written_in_batches_and_once_more_at_shutdown(client, settings):
    user = 7325
    created = await new_key(client, user)
    quiet = with_settings(settings, api_key_usage_flush_s=3600.0)
    async with AsyncTestClient(app=create_app(quiet)) as other:
        for _ in range(20):
            assert (await other.get(f"/api/user/{user}/portfolio", headers=bearer(created["key"]))).status_code == 200
        used_at = time.time()
        [listed] = (await other.get(KEYS.format(user), headers=bearer(created["key"]))).json()["items"]
        assert listed["last_used_at"] is None  # not written per request
    [listed] = (await client.get(KEYS.format(user))).json()["items"]
    assert listed["last_used_at"] is not None
    assert abs(datetime.fromisoformat(listed["last_used_at"]).timestamp() - used_at) < 2
