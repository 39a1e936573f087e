"""Signing in with an external OpenID Connect provider's access tokens, through the real app and servers.

The provider is a real one on 127.0.0.1 (tests/oidc_provider.py): discovery, a JWK set, keys it rotates, and
an outage. Users are linked to the provider's subjects by an operator, or created on first sight.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from config.settings import Settings
from gateway.app import create_app
from tests.conftest import with_settings
from tests.http.test_api_keys import bearer, new_key
from tests.http.test_auth import assert_problem
from tests.http.test_users import create, deposit, unique_email
from tests.oidc_provider import AUDIENCE, OidcProvider, SigningKey, running_provider

pytestmark = [pytest.mark.http, pytest.mark.integration]


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with running_provider("EdDSA", "RS256") as started:
        yield started


def signing_key(provider: OidcProvider) -> SigningKey:
    return next(iter(provider.keys.values()))


async def _client(
    settings: Settings, operator: dict[str, str], **oidc: object
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(with_settings(settings, oidc_audience=AUDIENCE, oidc_min_refetch_s=0.2, **oidc))
    async with AsyncTestClient(app=app) as c:
        c.headers["Authorization"] = operator["Authorization"]
        yield c


@pytest.fixture
async def linked(settings, operator_headers, provider) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An app that accepts the provider's tokens for users an operator linked."""
    async for c in _client(settings, operator_headers, oidc_issuer=provider.issuer):
        yield c


@pytest.fixture
async def provisioning(settings, operator_headers, provider) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An app that also creates a user for a subject it sees for the first time."""
    async for c in _client(settings, operator_headers, oidc_issuer=provider.issuer, oidc_auto_provision=True):
        yield c


def subject() -> str:
    return f"idp|{uuid.uuid4()}"


async def test_a_linked_users_token_reaches_its_own_data_and_no_one_elses(linked, provider):
    sub = subject()
    user = await create(linked, external_id=sub)
    signed_in = bearer(provider.mint(signing_key(provider), sub=sub))
    me = await linked.get("/api/users/me", headers=signed_in)
    assert me.status_code == 200, me.text
    assert me.json() == user
    for path in (f"/api/user/{user['id']}/portfolio", f"/api/user/{user['id']}/portfolio", "/api/market-data/CASH-EUR"):
        assert (await linked.get(path, headers=signed_in)).status_code == 200, path  # both portfolio lanes
    trade = {"symbol": "XOM", "side": "buy", "quantity": "1", "price": "1.08"}
    assert (await deposit(linked, user["id"], "1.08", headers=signed_in)).status_code == 201
    assert (await linked.post(f"/api/user/{user['id']}/trades", json=trade, headers=signed_in)).status_code == 201
    other = await create(linked)
    assert_problem(await linked.get(f"/api/user/{other['id']}/portfolio", headers=signed_in), 403)
    assert_problem(await linked.get("/api/ops/reports", headers=signed_in), 403)


async def test_an_unlinked_subject_and_a_forged_or_foreign_token_are_401(linked, provider):
    unknown = await linked.get("/api/users/me", headers=bearer(provider.mint(signing_key(provider), sub=subject())))
    assert "no user is linked" in assert_problem(unknown, 401)["detail"]
    user = await create(linked, external_id=(sub := subject()))
    for token in (
        provider.mint(signing_key(provider), sub=sub, aud="another-api"),
        provider.mint(signing_key(provider), sub=sub, exp=1_000_000),
    ):
        r = await linked.get(f"/api/user/{user['id']}/portfolio", headers=bearer(token))
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert_problem(r, 401)


async def test_a_token_naming_folio_scopes_acts_within_them(linked, provider):
    user = await create(linked, external_id=(sub := subject()))
    reader = bearer(provider.mint(signing_key(provider), sub=sub, scope="openid read"))
    assert (await linked.get(f"/api/user/{user['id']}/trades", headers=reader)).status_code == 200
    trade = {"symbol": "XOM", "side": "buy", "quantity": "1", "price": "1.08"}
    refused = await linked.post(f"/api/user/{user['id']}/trades", json=trade, headers=reader)
    assert "trade" in assert_problem(refused, 403)["detail"]


async def test_a_subject_seen_first_becomes_a_user_once_even_when_its_first_requests_race(provisioning, provider):
    sub, email = subject(), unique_email("oidc")
    signed_in = bearer(provider.mint(signing_key(provider), sub=sub, email=email, name="Ada Lovelace"))
    answers = await asyncio.gather(*(provisioning.get("/api/users/me", headers=signed_in) for _ in range(4)))
    assert {r.status_code for r in answers} == {200}
    users = {r.json()["id"] for r in answers}
    assert len(users) == 1
    me = answers[0].json()
    assert (me["email"], me["name"], me["external_id"]) == (email, "Ada Lovelace", sub)
    listed = await provisioning.get("/api/users", params={"email": email})
    assert [u["id"] for u in listed.json()["items"]] == [me["id"]]
    audit = (await provisioning.get("/api/ops/audit", params={"target": f"user:{me['id']}"})).json()["items"]
    assert [(e["action"], e["actor"]) for e in audit] == [("user.create", "system:oidc")]


async def test_provisioning_never_takes_over_another_users_email(provisioning, provider):
    taken = await create(provisioning)
    token = provider.mint(signing_key(provider), sub=subject(), email=taken["email"], name="Mallory")
    refused = await provisioning.get("/api/users/me", headers=bearer(token))
    assert "email" in assert_problem(refused, 401)["detail"]
    no_email = provider.mint(signing_key(provider), sub=subject(), email=None)
    assert "email" in assert_problem(await provisioning.get("/api/users/me", headers=bearer(no_email)), 401)["detail"]


async def test_revoked_sessions_refuse_the_providers_earlier_tokens(linked, provider):
    user = await create(linked, external_id=(sub := subject()))
    issued = provider.mint(signing_key(provider), sub=sub, iat=int(time.time()) - 5)
    path = f"/api/user/{user['id']}/portfolio"
    assert (await linked.get(path, headers=bearer(issued))).status_code == 200
    assert (await linked.post(f"/api/user/{user['id']}/sessions/revoke")).status_code == 200
    assert "revoked" in assert_problem(await linked.get(path, headers=bearer(issued)), 401)["detail"]


async def test_erasure_stops_the_users_keys_tokens_and_provider_tokens_at_once(linked, provider, token):
    user = await create(linked, external_id=(sub := subject()))
    uid = user["id"]
    credentials = {
        "key": bearer((await new_key(linked, uid))["key"]),
        "token": bearer(token(uid)),
        "provider": bearer(provider.mint(signing_key(provider), sub=sub)),
    }
    path = f"/api/user/{uid}/portfolio"
    for name, headers in credentials.items():
        assert (await linked.get(path, headers=headers)).status_code == 200, name  # each is remembered now
    assert (await linked.delete(f"/api/users/{uid}")).status_code == 204
    for headers in credentials.values():
        assert_problem(await linked.get(path, headers=headers), 401)
    audit = await linked.get("/api/ops/audit", params={"target": f"user:{uid}"})
    assert [e["action"] for e in audit.json()["items"]] == ["user.erase", "apikey.create", "user.create"]


async def test_a_provider_that_is_down_keeps_known_keys_working_and_an_unknown_key_is_503(linked, provider):
    user = await create(linked, external_id=(sub := subject()))
    known = signing_key(provider)
    assert (await linked.get("/api/users/me", headers=bearer(provider.mint(known, sub=sub)))).status_code == 200
    fresh = provider.add_key("RS256")
    unseen = bearer(provider.mint(fresh, sub=sub))
    provider.go_down("cut")
    try:
        again = provider.mint(known, sub=sub, jti=str(uuid.uuid4()))  # a new token, same known key
        assert (await linked.get("/api/users/me", headers=bearer(again))).status_code == 200
        await asyncio.sleep(0.3)  # past the refetch limit (0.2 s here): an unknown key may ask the provider
        down = await linked.get("/api/users/me", headers=unseen)
        assert_problem(down, 503)
        assert int(down.headers["retry-after"]) >= 1
    finally:
        provider.come_back()
    await asyncio.sleep(0.3)
    back = await linked.get("/api/users/me", headers=unseen)  # a 503 is not remembered as a refusal
    assert back.status_code == 200, back.text
    assert back.json()["id"] == user["id"]
    provider.retire(fresh)
