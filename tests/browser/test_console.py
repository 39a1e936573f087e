"""The operator console in a real Chromium, against a real web process and worker on the suite's servers.

Each test signs in as a person would (typing a token), and looks at what a person sees: the numbers, the
buttons, the messages. Screenshots go to .data/test-output/console/.
"""

import asyncio
import re
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, expect

from config.settings import Settings
from gateway.auth import mint_token
from tests.processes import WebProcess

pytestmark = [pytest.mark.integration]

USER = 2  # a demo user
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SERIOUS = ("serious", "critical")


def console_url(web: WebProcess) -> str:
    # `localhost`, not 127.0.0.1: a browser keeps a Secure cookie from plain http only on localhost.
    return f"http://localhost:{web.port}/console"


def token(settings: Settings, name: str, role: str = "admin") -> str:
    return mint_token(settings, subject=name, scope="operator", role=role)  # type: ignore[arg-type]


async def new_page(
    browser: Browser, viewport: dict[str, int] = DESKTOP, **options: object
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport=viewport, **options)  # type: ignore[arg-type]
    page = await context.new_page()
    page.csp_errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))  # type: ignore[attr-defined]
    return context, page


async def sign_in(page: Page, web: WebProcess, operator_token: str) -> None:
    await page.goto(console_url(web))
    await page.get_by_label("Operator token").fill(operator_token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#main")).to_be_visible()


async def number(page: Page, key: str) -> float:
    text = await page.locator(f'[data-k^="{key}"]').inner_text()
    found = re.search(r"-?[\d,]+(\.\d+)?", text)
    return float(found.group().replace(",", "")) if found else float("nan")


async def live(page: Page) -> None:
    await expect(page.locator("#live")).to_contain_text("Live", timeout=15_000)


def failed_report(settings: Settings, reason: str) -> str:
    report_id = str(uuid.uuid4())
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO reports (id, user_id, status, attempts, error, started_at, finished_at, deadline_at)"
            " VALUES (%s, %s, 'failed', 3, %s, now(), now(), now())",
            (report_id, USER, reason),
        )
    return report_id


def report_status(settings: Settings, report_id: str) -> str:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT status FROM reports WHERE id = %s", (report_id,)).fetchone()
    assert row is not None
    return str(row[0])


async def test_sign_in_refuses_a_bad_token_then_signs_in_and_out(browser, console_web, settings, screenshots):
    context, page = await new_page(browser)
    await page.goto(console_url(console_web))
    await page.get_by_label("Operator token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert").first).to_contain_text("sign-in refused: the token is invalid")
    await page.screenshot(path=screenshots / "sign-in-refused.png")
    await sign_in(page, console_web, token(settings, "ada"))
    await expect(page.locator("#operator")).to_have_text("ada")
    await expect(page.locator("#role")).to_have_text("admin")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("Operator token")).to_be_visible()
    await page.reload()  # the cookie is gone: still signed out
    await expect(page.get_by_label("Operator token")).to_be_visible()
    assert page.csp_errors == []
    await context.close()


async def test_the_panels_show_numbers_that_move_with_traffic(browser, console_web, settings, screenshots):
    context, page = await new_page(browser)
    await sign_in(page, console_web, token(settings, "ada"))
    await live(page)
    before = await number(page, "traffic.total")
    user = {"Authorization": f"Bearer {mint_token(settings, subject=str(USER), scope='user')}"}
    slow: dict[str, str] = {}  # request id -> Server-Timing, of responses over SLOW_REQUEST_MS (1 ms here)
    async with httpx.AsyncClient(base_url=console_web.url, headers=user) as client:
        for _ in range(60):
            r = await client.get(f"/api/user/{USER}/portfolio")
            assert r.status_code == 200
            if float(r.headers["server-timing"].rsplit("total;dur=", 1)[1]) > 1.0:
                slow[r.headers["x-request-id"]] = r.headers["server-timing"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (await number(page, "traffic.total")) < before + 60:
        await asyncio.sleep(0.5)
    assert await number(page, "traffic.total") >= before + 60
    assert await number(page, "cache.fills") >= 0
    assert await number(page, "database.size") > 0
    await expect(page.locator("#routes")).to_contain_text("/api/user/{user_id}/portfolio")
    assert slow, "no request took over 1 ms"
    listed = page.locator("#slow-rows tr", has_text=list(slow)[-1])
    await expect(listed).to_contain_text(f"GET /api/user/{USER}/portfolio", timeout=15_000)
    assert slow[list(slow)[-1]] in (await listed.locator("td").nth(1).get_attribute("title") or "")
    await expect(page.locator("#traffic svg polyline").first).to_be_attached()
    assert await number(page, "cost.budget_usd") > 0  # MONTHLY_BUDGET_USD, as the processes export it
    await expect(page.locator("#cost-rows")).to_contain_text("web instances")
    await expect(page.locator("#fleet-rows")).to_contain_text("web")
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=screenshots / "console-overview.png")
    assert page.csp_errors == []
    await context.close()


async def test_a_dead_letter_is_requeued_from_the_console_and_then_succeeds(
    browser, console_web, console_worker, settings, screenshots
):
    report_id = failed_report(settings, "gave up after 3 attempts: the mail server refused the message")
    context, page = await new_page(browser)
    await sign_in(page, console_web, token(settings, "grace"))
    row = page.locator("#dead-letters tr", has_text=report_id[:8])
    await expect(row).to_contain_text("the mail server refused", timeout=15_000)
    await page.get_by_label("Reason contains").fill("no such reason anywhere")
    await page.get_by_role("button", name="Filter", exact=True).click()
    await expect(page.locator("#dead-letters")).to_contain_text("No dead letter matches the filter")
    await page.get_by_label("Reason contains").fill("MAIL SERVER refused")
    await page.get_by_label("Dead letters of").select_option("generate_report")
    await page.get_by_role("button", name="Filter", exact=True).click()
    await expect(row).to_be_visible()
    await page.locator("#queue").screenshot(path=screenshots / "console-dead-letters.png")
    await page.get_by_role("button", name=f"Requeue report {report_id}").click()
    await expect(page.locator("#notice")).to_contain_text(f"Report {report_id[:8]} requeued")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and report_status(settings, report_id) != "succeeded":
        await asyncio.sleep(0.3)
    assert report_status(settings, report_id) == "succeeded"
    await expect(row).to_have_count(0, timeout=15_000)  # no longer a dead letter
    await expect(page.locator("#audit-rows")).to_contain_text("report.requeue")
    await expect(page.locator("#audit-rows")).to_contain_text("operator:grace")
    await context.close()


async def wait_status(settings: Settings, report_id: str, status: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and report_status(settings, report_id) != status:
        await asyncio.sleep(0.3)
    return report_status(settings, report_id)


@pytest.fixture
def resumed_after(settings: Settings) -> Iterator[None]:
    yield
    with psycopg.connect(settings.database_url, autocommit=True) as conn:  # never leave the workers paused
        conn.execute("DELETE FROM report_processing_pause")


async def test_paused_processing_holds_reports_until_resumed_and_a_batch_requeue_and_a_cancel_act(
    browser, console_web, console_worker, settings, screenshots, resumed_after
):
    tag = uuid.uuid4().hex[:10]
    batch = [failed_report(settings, f"gave up: renderer crashed {tag}") for _ in range(2)]
    doomed = failed_report(settings, f"gave up: nobody wants this {tag}")
    context, page = await new_page(browser)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await sign_in(page, console_web, token(settings, "lin"))
    await expect(page.locator("#processing")).to_contain_text("running", timeout=15_000)
    await page.get_by_role("button", name="Pause report processing").click()
    await expect(page.locator("#processing")).to_contain_text("paused by operator:lin", timeout=15_000)
    await page.get_by_label("Reason contains").fill(f"renderer crashed {tag}")
    await page.get_by_role("button", name="Filter", exact=True).click()
    await expect(page.locator("#dead-letters tr")).to_have_count(2, timeout=15_000)
    await page.get_by_role("button", name="Requeue matching reports").click()
    await expect(page.locator("#notice")).to_contain_text("2 reports requeued")
    await asyncio.sleep(3)  # a worker is running: while paused it leaves the requeued reports queued
    assert [report_status(settings, r) for r in batch] == ["queued", "queued"]
    await page.locator("#queue").screenshot(path=screenshots / "console-queue-paused.png")
    await page.get_by_role("button", name="Resume report processing").click()
    await expect(page.locator("#processing")).to_contain_text("running", timeout=15_000)
    assert [await wait_status(settings, r, "succeeded") for r in batch] == ["succeeded", "succeeded"]
    await page.get_by_role("button", name="Clear").click()
    await page.get_by_role("button", name=f"Cancel report {doomed}").click()
    await expect(page.locator("#notice")).to_contain_text(f"Report {doomed[:8]} cancelled")
    assert report_status(settings, doomed) == "cancelled"
    for action in ("reports.pause", "reports.resume", "report.cancel"):
        await expect(page.locator("#audit-rows")).to_contain_text(action)
    await context.close()


async def test_a_read_only_operator_sees_no_action_and_a_forged_one_is_refused(browser, console_web, settings):
    report_id = failed_report(settings, "gave up after 3 attempts: read-only check")
    context, page = await new_page(browser)
    await sign_in(page, console_web, token(settings, "watcher", role="read"))
    await expect(page.locator("#role")).to_have_text("read-only")
    row = page.locator("#dead-letters tr", has_text=report_id[:8])
    await expect(row).to_contain_text("read-only", timeout=15_000)
    await expect(page.locator("#processing")).to_contain_text("Report processing:")
    actions = re.compile("^(Requeue|Redeliver|Cancel|Pause|Resume)")
    assert await page.get_by_role("button", name=actions).count() == 0
    forged = await page.evaluate(
        """async (id) => {
            const session = await (await fetch('/console/session')).json();
            const r = await fetch(`/console/reports/${id}/requeue`,
                                  {method: 'POST', headers: {'X-CSRF-Token': session.csrf_token}});
            return [r.status, (await r.json()).detail];
        }""",
        report_id,
    )
    assert forged[0] == 403
    assert "may not act" in forged[1]
    assert report_status(settings, report_id) == "failed"
    await context.close()


async def test_an_action_without_the_csrf_token_is_refused(browser, console_web, settings):
    report_id = failed_report(settings, "gave up after 3 attempts: CSRF check")
    context, page = await new_page(browser)
    await sign_in(page, console_web, token(settings, "ada"))
    status = await page.evaluate(
        "async (id) => (await fetch(`/console/reports/${id}/requeue`, {method: 'POST'})).status", report_id
    )
    assert status == 403
    assert report_status(settings, report_id) == "failed"
    await context.close()


async def test_the_console_works_from_the_keyboard(browser, console_web, settings):
    context, page = await new_page(browser)
    await page.goto(console_url(console_web))
    await expect(page.get_by_label("Operator token")).to_be_focused()  # the page starts where one types
    await page.keyboard.type(token(settings, "ada"))
    await page.keyboard.press("Enter")
    await expect(page.locator("#main")).to_be_visible()
    await page.reload()
    await expect(page.locator("#main")).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to the panels")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Sign out")).to_be_focused()
    for name in ("Traffic", "Cache", "Database", "Queue and reports", "Webhooks", "Host and fleet", "Cost", "Audit"):
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name=name, exact=True)).to_be_focused()
    await page.keyboard.press("Enter")
    assert page.url.endswith("#audit")
    await page.get_by_label("Action").focus()
    await page.keyboard.type("report.requeue")
    await page.keyboard.press("Enter")
    await expect(page.locator("#audit-rows tr").first).to_be_visible()
    await context.close()


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
async def test_no_serious_accessibility_violation_and_the_page_fits(
    browser, console_web, settings, screenshots, name, viewport
):
    # axe-core is injected by the test: the page's own CSP would (rightly) refuse it, so this context bypasses it.
    context, page = await new_page(browser, viewport, bypass_csp=True)
    await page.goto(console_url(console_web))
    await expect(page.get_by_label("Operator token")).to_be_visible()
    found = [await Axe().run(page)]
    await sign_in(page, console_web, token(settings, "ada"))
    await live(page)
    found.append(await Axe().run(page))
    for results in found:
        bad = [v for v in results.response["violations"] if v["impact"] in SERIOUS]
        assert bad == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than a {viewport['width']} px screen"
    await page.screenshot(path=screenshots / f"console-{name}-full.png", full_page=True)
    await context.close()
