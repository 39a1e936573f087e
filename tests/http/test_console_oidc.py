"""The console's sign-in through the identity provider, through the real app, servers and a real provider on
127.0.0.1 (tests/oidc_provider.py): the whole authorization code flow with PKCE, as a browser follows it."""

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from config.settings import Settings
from gateway.app import create_app
from tests.conftest import with_settings
from tests.http.test_console import USER, failed_report
from tests.oidc_provider import AUDIENCE, CLIENT_ID, CLIENT_SECRET, OidcProvider, running_provider

pytestmark = [pytest.mark.http, pytest.mark.integration]

ADMIN, READ = "folio-operator-admin", "folio-operator-read"
TIMEOUT_S = 2.0  # the provider runs in a thread of this process: room for a loaded machine


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with running_provider("RS256") as started:
        yield started


@pytest.fixture(autouse=True)
def fresh(provider: OidcProvider) -> Iterator[None]:
    yield
    provider.come_back()
    provider.id_token_claims, provider.deny, provider.auth_methods = {}, False, None


def console_settings(settings: Settings, provider: OidcProvider, **changes: object) -> Settings:
    oidc = {
        "oidc_issuer": provider.issuer,
        "oidc_audience": AUDIENCE,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_provider_name": "Test IdP",
        "oidc_http_timeout_s": TIMEOUT_S,
    }
    return with_settings(settings, **{**oidc, **changes})


@pytest.fixture
async def console(settings: Settings, provider: OidcProvider) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(console_settings(settings, provider))) as c:
        yield c


def sign_in_as(provider: OidcProvider, *roles: str, username: str | None = None) -> str:
    username = username or f"ada-{uuid.uuid4().hex[:8]}"
    provider.sign_in_as = {"sub": f"idp|{username}", "preferred_username": username, "roles": list(roles)}
    return username


def cookie_of(response: httpx.Response, name: str) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert found, response.headers
    return found[0]


async def start(console: AsyncTestClient[Litestar]) -> tuple[str, str]:
    """The start of a sign-in: (the provider's authorization URL, the sign-in's cookie as a browser sends it)."""
    r = await console.get("/console/oidc/start", follow_redirects=False)
    assert r.status_code == 302, r.text
    flow = cookie_of(r, "folio_console_oidc")
    for attribute in ("httponly", "samesite=lax", "path=/console/oidc", "secure", "max-age=600"):
        assert attribute in flow.lower()
    return r.headers["location"], flow.split(";", 1)[0]


async def at_provider(url: str) -> str:
    """What the provider answers the browser: the redirect back to the console's callback (path and query)."""
    async with httpx.AsyncClient() as browser:
        r = await browser.get(url, follow_redirects=False)
    assert r.status_code == 302, r.text
    back = urlsplit(r.headers["location"])
    return f"{back.path}?{back.query}"


async def callback(console: AsyncTestClient[Litestar], path: str, flow_cookie: str) -> httpx.Response:
    return await console.get(path, headers={"Cookie": flow_cookie}, follow_redirects=False)


async def sign_in(console: AsyncTestClient[Litestar]) -> httpx.Response:
    url, flow = await start(console)
    return await callback(console, await at_provider(url), flow)


def refused_with(r: httpx.Response, reason: str) -> None:
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/console?sign_in_error={reason}"
    assert "folio_console=" not in r.headers.get("set-cookie", "")  # no session issued
    assert 'folio_console_oidc=""' in r.headers["set-cookie"] or "folio_console_oidc=;" in r.headers["set-cookie"]


async def session_of(console: AsyncTestClient[Litestar], r: httpx.Response) -> tuple[dict[str, str], dict]:
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/console"
    cookie = cookie_of(r, "folio_console").split(";", 1)[0]
    session = await console.get("/console/session", headers={"Cookie": cookie})
    assert session.status_code == 200, session.text
    return {"Cookie": cookie, "X-CSRF-Token": session.json()["csrf_token"]}, session.json()


async def test_the_start_sends_the_browser_to_the_provider_with_pkce_state_and_nonce(console, provider):
    url, _ = await start(console)
    sent = urlsplit(url)
    assert f"{sent.scheme}://{sent.netloc}{sent.path}" == provider.issuer + "/protocol/openid-connect/auth"
    query = {name: values[0] for name, values in parse_qs(sent.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "http://testserver.local/console/oidc/callback"
    assert query["scope"] == "openid profile email"
    assert (query["response_type"], query["code_challenge_method"]) == ("code", "S256")
    assert [len(query[name]) >= 43 for name in ("state", "nonce", "code_challenge")] == [True] * 3
    options = (await console.get("/console/oidc")).json()
    assert options == {"provider": "Test IdP", "start_url": "/console/oidc/start", "message": None}


async def test_an_admin_signs_in_and_acts(console, provider, settings):
    name = sign_in_as(provider, READ, ADMIN)  # both: admin wins
    headers, session = await session_of(console, await sign_in(console))
    assert (session["operator"], session["role"]) == (f"oidc:{name}", "admin")
    assert provider.client_auth[-1] == "basic"
    report_id = failed_report(settings)
    r = await console.post(f"/console/reports/{report_id}/requeue", headers=headers)
    assert r.status_code == 201, r.text
    audit = await console.get(f"/console/audit?action=report.requeue&actor=operator:oidc:{name}", headers=headers)
    assert [e["target"] for e in audit.json()["items"]] == [f"user:{USER}/report:{report_id}"]
    signed_out = await console.delete("/console/session", headers=headers)
    assert signed_out.status_code == 204
    assert 'folio_console=""' in signed_out.headers["set-cookie"] or "Max-Age=0" in signed_out.headers["set-cookie"]


async def test_a_reader_signs_in_and_may_not_act(console, provider, settings):
    name = sign_in_as(provider, READ)
    headers, session = await session_of(console, await sign_in(console))
    assert (session["operator"], session["role"]) == (f"oidc:{name}", "read")
    r = await console.post(f"/console/reports/{failed_report(settings)}/requeue", headers=headers)
    assert r.status_code == 403, r.text


async def test_roles_from_a_dotted_path_and_the_secret_in_the_form(settings, provider):
    provider.sign_in_as = {"sub": "idp|kc", "email": "kc@example.com", "realm_access": {"roles": [ADMIN]}}
    provider.auth_methods = ["client_secret_post"]
    app = create_app(console_settings(settings, provider, oidc_roles_claim="realm_access.roles"))
    async with AsyncTestClient(app=app) as c:
        _, session = await session_of(c, await sign_in(c))
    assert (session["operator"], session["role"]) == ("oidc:kc@example.com", "admin")
    assert provider.client_auth[-1] == "post"


async def test_no_console_role_is_refused_with_a_message(console, provider):
    sign_in_as(provider, "some-other-role")
    refused_with(await sign_in(console), "no_role")
    options = (await console.get("/console/oidc", params={"error": "no_role"})).json()
    assert options["message"] == (
        f"Your account at the identity provider has no console role: ask for '{READ}' or '{ADMIN}'."
    )


async def test_a_wrong_state_or_no_sign_in_cookie_is_refused(console, provider):
    sign_in_as(provider, ADMIN)
    url, flow = await start(console)
    back = await at_provider(url)
    path, _, query = back.partition("?")
    forged = "&".join(part if not part.startswith("state=") else "state=forged" for part in query.split("&"))
    refused_with(await callback(console, f"{path}?{forged}", flow), "state")
    refused_with(await console.get(back, follow_redirects=False), "expired")  # another browser: no cookie


async def test_a_code_is_used_once_and_an_unknown_one_is_refused(console, provider):
    sign_in_as(provider, ADMIN)
    url, flow = await start(console)
    back = await at_provider(url)
    await session_of(console, await callback(console, back, flow))
    refused_with(await callback(console, back, flow), "refused")  # replayed (the cookie kept by an attacker)
    url, flow = await start(console)
    state = parse_qs(urlsplit(url).query)["state"][0]
    refused_with(await callback(console, f"/console/oidc/callback?code=made-up&state={state}", flow), "refused")


@pytest.mark.parametrize(
    "spoiled", [{"nonce": "another sign-in"}, {"nonce": None}, {"aud": "another-client", "azp": None},
                {"azp": "another-client"}, {"iss": "http://127.0.0.1:1/elsewhere"}, {"exp": 1}],
    ids=["nonce", "no-nonce", "audience", "azp", "issuer", "expired"],
)  # fmt: skip
async def test_an_id_token_that_does_not_verify_is_refused(console, provider, spoiled):
    sign_in_as(provider, ADMIN)
    provider.id_token_claims = spoiled
    refused_with(await sign_in(console), "refused")


async def test_a_denial_at_the_provider_ends_on_the_sign_in_screen(console, provider):
    provider.deny = True
    refused_with(await sign_in(console), "denied")


@pytest.mark.parametrize("mode", ["cut", "hang"])
async def test_a_provider_that_is_down_is_told_fast(console, provider, mode):
    sign_in_as(provider, ADMIN)
    url, flow = await start(console)  # discovery read while it is up
    back = await at_provider(url)
    provider.go_down(mode)
    began = time.monotonic()
    refused_with(await callback(console, back, flow), "unavailable")
    assert time.monotonic() - began < 4 * TIMEOUT_S  # told, not hung
    options = (await console.get("/console/oidc", params={"error": "unavailable"})).json()
    assert options["message"].startswith("The identity provider cannot be reached")


async def test_a_provider_down_at_the_start_is_told_fast(settings, provider):
    provider.go_down("hang")
    async with AsyncTestClient(app=create_app(console_settings(settings, provider))) as c:
        began = time.monotonic()
        r = await c.get("/console/oidc/start", follow_redirects=False)
        assert time.monotonic() - began < 4 * TIMEOUT_S
    assert (r.status_code, r.headers["location"]) == (303, "/console?sign_in_error=unavailable")


async def test_without_a_client_the_console_signs_in_with_tokens_only(client):
    assert (await client.get("/console/oidc")).json() == {"provider": None, "start_url": None, "message": None}
    assert (await client.get("/console/oidc/start", follow_redirects=False)).status_code == 404


async def test_a_public_client_signs_in_with_pkce_alone_and_public_url_names_the_callback(settings, provider):
    provider.client_secret = ""
    name = sign_in_as(provider, READ)
    app = create_app(
        console_settings(settings, provider, oidc_client_secret="", public_url="https://folio.example.com")
    )
    try:
        async with AsyncTestClient(app=app) as c:
            url, flow = await start(c)
            redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
            assert redirect_uri == "https://folio.example.com/console/oidc/callback"
            _, session = await session_of(c, await callback(c, await at_provider(url), flow))
    finally:
        provider.client_secret = CLIENT_SECRET
    assert (session["operator"], session["role"]) == (f"oidc:{name}", "read")
    assert provider.client_auth[-1] == "none"
