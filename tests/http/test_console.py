"""The operator console's routes through the app: its page and files, sign-in, the session cookie, CSRF,
the two roles, and the requeue of a dead letter (the browser itself is driven in tests/browser/)."""

import gzip
import re
import uuid

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from config.settings import Settings
from gateway.auth import mint_token

pytestmark = [pytest.mark.http, pytest.mark.integration]

USER = 2  # a demo user
FIRST_LOAD_MAX = 150 * 1024


@pytest.fixture
def browser(app: Litestar, client: AsyncTestClient[Litestar]) -> AsyncTestClient[Litestar]:
    """A client without the suite's bearer header (the console authenticates by its cookie), on the session's
    running app: entering a test client of its own would run the app's lifespan again, and that client's exit
    would shut down the services every later test uses."""
    c = AsyncTestClient(app=app)
    c.blocking_portal = client.blocking_portal
    return c


def operator_token(settings: Settings, name: str, role: str | None = None) -> str:
    return mint_token(settings, subject=name, scope="operator", role=role)  # type: ignore[arg-type]


async def sign_in(c: AsyncTestClient[Litestar], token: str) -> tuple[dict[str, str], dict]:
    """Sign in; the headers a browser would then send (cookie and CSRF token), and the session."""
    r = await c.post("/console/session", json={"token": token})
    assert r.status_code == 201, r.text
    cookie = r.headers["set-cookie"].split(";", 1)[0]
    session = r.json()
    return {"Cookie": cookie, "X-CSRF-Token": session["csrf_token"]}, session


def failed_report(settings: Settings, reason: str = "gave up after 3 attempts: the mail server refused") -> str:
    """A dead letter: a report that used up its attempts."""
    report_id = str(uuid.uuid4())
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO reports (id, user_id, status, attempts, error, started_at, finished_at, deadline_at)"
            " VALUES (%s, %s, 'failed', 3, %s, now(), now(), now())",
            (report_id, USER, reason),
        )
    return report_id


async def test_the_page_and_its_files_are_served_under_a_strict_policy_and_load_small(browser):
    page = await browser.get("/console", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in page.text  # no inline script
    assert " style=" not in page.text  # no inline style
    files = re.findall(r'(?:src|href)="(/console/assets/[0-9a-f]{16}/[a-z.]+)"', page.text)
    assert sorted(f.rsplit("/", 1)[1] for f in files) == ["console.css", "console.js", "queue.js"]
    total = len(gzip.compress(page.content))
    for path in files:
        asset = await browser.get(path)
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        total += len(gzip.compress(asset.content))
    assert total <= FIRST_LOAD_MAX
    stale = await browser.get(re.sub(r"/[0-9a-f]{16}/", "/0000000000000000/", files[0]))
    assert stale.status_code == 404


async def test_an_operator_token_signs_in_with_a_strict_http_only_cookie(browser, settings):
    r = await browser.post("/console/session", json={"token": operator_token(settings, "ada")})
    assert r.status_code == 201, r.text
    cookie = r.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/console", "Max-Age="):
        assert attribute.lower() in cookie.lower(), cookie
    assert r.json()["operator"] == "ada"
    assert r.json()["role"] == "admin"  # an operator token without a role claim, as issued before roles
    headers = {"Cookie": cookie.split(";", 1)[0]}
    me = await browser.get("/console/session", headers=headers)
    assert me.status_code == 200
    assert me.json()["csrf_token"] == r.json()["csrf_token"]
    assert (await browser.get("/console/session")).status_code == 401
    forged = {"Cookie": headers["Cookie"][:-3] + "AAA"}
    assert (await browser.get("/console/session", headers=forged)).status_code == 401


@pytest.mark.parametrize(
    ("given", "detail"),
    [("not-a-token", "the token is invalid"), ("user", "this is not an operator token")],
)
async def test_a_bad_token_is_refused_with_a_clear_message(browser, settings, given, detail):
    if given == "user":
        given = mint_token(settings, subject=str(USER), scope="user")
    r = await browser.post("/console/session", json={"token": given})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert detail in r.json()["detail"]
    assert "set-cookie" not in r.headers


async def test_sign_out_needs_the_csrf_token_and_clears_the_cookie(browser, settings):
    headers, _ = await sign_in(browser, operator_token(settings, "ada"))
    refused = await browser.delete("/console/session", headers={"Cookie": headers["Cookie"]})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    out = await browser.delete("/console/session", headers=headers)
    assert out.status_code == 204
    assert "max-age=0" in out.headers["set-cookie"].lower()


async def test_an_admin_requeues_a_dead_letter_and_the_audit_log_names_the_operator(browser, settings):
    report_id = failed_report(settings)
    headers, _ = await sign_in(browser, operator_token(settings, "grace"))
    no_csrf = await browser.post(f"/console/reports/{report_id}/requeue", headers={"Cookie": headers["Cookie"]})
    assert no_csrf.status_code == 403
    done = await browser.post(f"/console/reports/{report_id}/requeue", headers=headers)
    assert done.status_code == 201, done.text
    assert done.json() == {"id": report_id, "status": "queued"}
    again = await browser.post(f"/console/reports/{report_id}/requeue", headers=headers)
    assert again.status_code == 409
    assert "only a failed report" in again.json()["detail"]
    unknown = await browser.post(f"/console/reports/{uuid.uuid4()}/requeue", headers=headers)
    assert unknown.status_code == 404
    audit = await browser.get("/console/audit?action=report.requeue&actor=operator:grace", headers=headers)
    assert audit.status_code == 200
    assert any(e["target"] == f"user:{USER}/report:{report_id}" for e in audit.json()["items"])


async def test_a_read_only_operator_sees_everything_and_is_refused_any_action(browser, client, settings):
    report_id = failed_report(settings)
    token = operator_token(settings, "watcher", role="read")
    headers, session = await sign_in(browser, token)
    assert session["role"] == "read"
    assert (await browser.get("/console/audit", headers=headers)).status_code == 200
    forged = await browser.post(f"/console/reports/{report_id}/requeue", headers=headers)
    assert forged.status_code == 403
    assert "read" in forged.json()["detail"]
    with psycopg.connect(settings.database_url) as conn:
        status = conn.execute("SELECT status FROM reports WHERE id = %s", (report_id,)).fetchone()
    assert status == ("failed",)
    # The same token on the API: it reads, and it changes nothing.
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await browser.get("/api/ops/reports?status=failed", headers=bearer)).status_code == 200
    refused = await browser.post(f"/api/generate-report?user_id={USER}", headers=bearer)
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]


async def test_console_routes_stay_out_of_the_api_document(client):
    document = (await client.get("/docs/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/console")]


async def test_an_admin_redelivers_a_dead_webhook_delivery_and_a_reader_may_not(
    browser, client, settings, auth_headers
):
    user = (await client.post("/api/users", json={"email": f"console-{uuid.uuid4().hex[:12]}@example.com",
                                                  "name": "Console"})).json()["id"]  # fmt: skip
    hooks = auth_headers(user)
    endpoint = await client.post(
        f"/api/user/{user}/webhooks", json={"url": "http://93.184.215.14/hooks/folio", "events": ["trade.created"]},
        headers=hooks,
    )  # fmt: skip
    assert endpoint.status_code == 201, endpoint.text
    endpoint_id, delivery_id = endpoint.json()["endpoint"]["id"], f"msg_{uuid.uuid4().hex}"
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO webhook_deliveries (id, endpoint_id, user_id, event_type, payload, status, attempts,"
            " last_status_code, finished_at) VALUES (%s, %s, %s, 'trade.created', '{}', 'dead', 1, 500, now())",
            (delivery_id, endpoint_id, user),
        )
        conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms) VALUES (%s, 1, 500, 12.5)",
            (delivery_id,),
        )
    path = f"/console/webhooks/{user}/{endpoint_id}/deliveries/{delivery_id}/redeliver"
    try:
        reader, _ = await sign_in(browser, operator_token(settings, "watcher", role="read"))
        assert (await browser.post(path, headers=reader)).status_code == 403
        admin, _ = await sign_in(browser, operator_token(settings, "grace"))
        done = await browser.post(path, headers=admin)
        assert done.status_code == 201, done.text
        assert done.json() == {"id": delivery_id, "status": "pending"}
        audit = await browser.get("/console/audit?action=webhook.redeliver&actor=operator:grace", headers=admin)
        assert f"user:{user}/webhook:{endpoint_id}" in [e["target"] for e in audit.json()["items"]]
    finally:  # no delivery is left for a later worker to send
        assert (await client.delete(f"/api/user/{user}/webhooks/{endpoint_id}", headers=hooks)).status_code == 204
