"""Signing in to the console through the identity provider, in a real Chromium: a real web process set up with
the test provider (tests/oidc_provider.py, which approves at once as the user a test chooses)."""

import uuid
from collections.abc import Iterator

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import expect

from cli.embedded import EmbeddedServers
from tests.browser.test_console import SERIOUS, console_url, new_page
from tests.oidc_provider import AUDIENCE, CLIENT_ID, CLIENT_SECRET, OidcProvider, running_provider
from tests.processes import WebProcess, web_processes

pytestmark = [pytest.mark.integration]

PROVIDER = "Test IdP"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with running_provider("RS256") as started:
        yield started


@pytest.fixture(scope="module")
def oidc_web(console_env: dict[str, str], servers: EmbeddedServers, provider: OidcProvider) -> Iterator[WebProcess]:
    env = {
        **console_env,
        "OIDC_ISSUER": provider.issuer,
        "OIDC_AUDIENCE": AUDIENCE,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDER_NAME": PROVIDER,
    }
    with web_processes(env, 1, servers.data_dir / "console-oidc-logs") as (web,):
        yield web


def approve_as(provider: OidcProvider, *roles: str) -> str:
    name = f"ada-{uuid.uuid4().hex[:6]}"
    provider.sign_in_as = {"sub": f"idp|{name}", "preferred_username": name, "roles": list(roles)}
    return name


async def test_an_operator_signs_in_through_the_provider_and_out(browser, oidc_web, provider, screenshots):
    name = approve_as(provider, "folio-operator-read")
    context, page = await new_page(browser)
    await page.goto(console_url(oidc_web))
    await page.get_by_role("link", name=f"Sign in with {PROVIDER}").click()
    await expect(page.locator("#main")).to_be_visible()
    await expect(page.locator("#operator")).to_have_text(f"oidc:{name}")
    await expect(page.locator("#role")).to_have_text("read-only")
    await page.screenshot(path=screenshots / "oidc-signed-in.png")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("Operator token")).to_be_visible()
    await page.reload()  # the cookie is gone: still signed out
    await expect(page.get_by_role("link", name=f"Sign in with {PROVIDER}")).to_be_visible()
    assert page.csp_errors == []  # type: ignore[attr-defined]
    await context.close()


async def test_an_account_without_a_console_role_is_told_so_on_the_sign_in_screen(
    browser, oidc_web, provider, screenshots
):
    approve_as(provider, "some-other-role")
    # axe-core is injected by the test, so this context bypasses the page's CSP (as the console's own axe test).
    context, page = await new_page(browser, bypass_csp=True)
    await page.goto(console_url(oidc_web))
    await page.get_by_role("link", name=f"Sign in with {PROVIDER}").click()
    await expect(page.get_by_role("alert").first).to_contain_text("has no console role")
    assert "sign_in_error" not in page.url  # the address drops the reason: a reload does not repeat it
    assert await page.locator("#main").is_hidden()
    await page.screenshot(path=screenshots / "oidc-no-role.png")
    bad = [v for v in (await Axe().run(page)).response["violations"] if v["impact"] in SERIOUS]
    assert bad == [], [(v["id"], v["help"]) for v in bad]
    await context.close()
