"""The console's queue actions through the app: dead letters by filter, batch requeue, cancel, pause and
resume; each audited with the operator's name, refused to a read-only operator and without the CSRF token."""

import asyncio
import time
import uuid

import msgspec
import psycopg
import pytest
from litestar.testing import AsyncTestClient

from config.settings import Settings
from gateway.app import create_app
from tests.http.test_console import USER, browser, failed_report, operator_token, sign_in

__all__ = ["browser"]
pytestmark = [pytest.mark.http, pytest.mark.integration]


def status_of(settings: Settings, report_id: str) -> str:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT status FROM reports WHERE id = %s", (report_id,)).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def resumed_after(settings: Settings):
    yield
    with psycopg.connect(settings.database_url, autocommit=True) as conn:  # never leave the suite paused
        conn.execute("DELETE FROM report_processing_pause")


async def test_dead_letters_filter_by_reason_actor_and_age(browser, settings):
    tag = uuid.uuid4().hex
    smtp = failed_report(settings, f"gave up: SMTP refused {tag}")
    other = failed_report(settings, f"gave up: renderer crashed {tag}")
    headers, _ = await sign_in(browser, operator_token(settings, "ada", role="read"))
    found = await browser.get("/console/dead-letters", params={"reason": f"smtp REFUSED {tag}"}, headers=headers)
    assert found.status_code == 200, found.text
    assert [(d["actor"], d["id"]) for d in found.json()["items"]] == [("generate_report", smtp)]
    both = await browser.get("/console/dead-letters", params={"reason": tag, "actor": "generate_report"},
                             headers=headers)  # fmt: skip
    assert sorted(d["id"] for d in both.json()["items"]) == sorted([smtp, other])
    webhooks_only = await browser.get("/console/dead-letters", params={"reason": tag, "actor": "deliver_webhook"},
                                      headers=headers)  # fmt: skip
    assert webhooks_only.json()["items"] == []
    old = await browser.get("/console/dead-letters", params={"reason": tag, "older_than_s": 3600}, headers=headers)
    assert old.json()["items"] == []
    bad = await browser.get("/console/dead-letters", params={"older_than_s": "-1"}, headers=headers)
    assert bad.status_code == 400
    assert "older_than_s" in bad.text
    unknown = await browser.get("/console/dead-letters", params={"actor": "nobody"}, headers=headers)
    assert unknown.status_code == 400
    assert "actor" in unknown.text


async def test_an_admin_requeues_the_matching_dead_letters_in_one_batch_each_audited(browser, settings):
    tag = uuid.uuid4().hex
    matching = [failed_report(settings, f"gave up: SMTP refused {tag}") for _ in range(3)]
    other = failed_report(settings, f"gave up: renderer crashed {tag}")
    headers, _ = await sign_in(browser, operator_token(settings, "grace"))
    no_csrf = await browser.post("/console/dead-letters/requeue", json={"reason": f"smtp refused {tag}"},
                                 headers={"Cookie": headers["Cookie"]})  # fmt: skip
    assert no_csrf.status_code == 403
    done = await browser.post("/console/dead-letters/requeue", json={"reason": f"smtp refused {tag}"}, headers=headers)
    assert done.status_code == 201, done.text
    assert done.json()["requeued"] == 3
    assert sorted(done.json()["ids"]) == sorted(matching)
    assert {status_of(settings, r) for r in matching} <= {"queued", "running", "succeeded"}
    assert status_of(settings, other) == "failed"
    audit = await browser.get("/console/audit?action=report.requeue&actor=operator:grace", headers=headers)
    targets = {e["target"] for e in audit.json()["items"]}
    assert {f"user:{USER}/report:{r}" for r in matching} <= targets
    bad = await browser.post("/console/dead-letters/requeue", json={"older_than_s": "soon"}, headers=headers)
    assert bad.status_code == 400
    assert "older_than_s" in bad.text


async def test_cancel_ends_a_dead_letter_and_refuses_a_finished_report(browser, settings):
    report_id = failed_report(settings)
    headers, _ = await sign_in(browser, operator_token(settings, "grace"))
    done = await browser.post(f"/console/reports/{report_id}/cancel", headers=headers)
    assert done.status_code == 201, done.text
    assert done.json() == {"id": report_id, "status": "cancelled"}
    again = await browser.post(f"/console/reports/{report_id}/cancel", headers=headers)
    assert again.status_code == 409
    assert "only a queued or failed report can be cancelled" in again.json()["detail"]
    assert (await browser.post(f"/console/reports/{uuid.uuid4()}/cancel", headers=headers)).status_code == 404
    audit = await browser.get("/console/audit?action=report.cancel&actor=operator:grace", headers=headers)
    assert any(e["target"] == f"user:{USER}/report:{report_id}" for e in audit.json()["items"])


async def test_pause_and_resume_are_for_admins_and_audited(browser, settings, resumed_after):
    reader, _ = await sign_in(browser, operator_token(settings, "watcher", role="read"))
    refused = await browser.post("/console/processing/pause", headers=reader)
    assert refused.status_code == 403
    assert (await browser.get("/console/processing", headers=reader)).json()["paused"] is False
    admin, _ = await sign_in(browser, operator_token(settings, "lin"))
    paused = await browser.post("/console/processing/pause", headers=admin)
    assert paused.status_code == 201, paused.text
    assert (paused.json()["paused"], paused.json()["by"]) == (True, "operator:lin")
    seen = await browser.get("/console/processing", headers=reader)
    assert seen.json()["paused"] is True
    assert (await browser.post("/console/processing/stop", headers=admin)).status_code in (400, 404)
    resumed = await browser.post("/console/processing/resume", headers=admin)
    assert resumed.json()["paused"] is False
    audit = await browser.get("/console/audit?actor=operator:lin", headers=admin)
    actions = [e["action"] for e in audit.json()["items"]]
    assert "reports.pause" in actions
    assert "reports.resume" in actions
    refused_again = await browser.post(f"/console/reports/{failed_report(settings)}/cancel", headers=reader)
    assert refused_again.status_code == 403


async def test_a_slow_request_is_listed_with_its_server_timing_and_request_id(settings):
    """Every request is slow at SLOW_REQUEST_MS=0: the console lists it as its client saw it."""
    app = create_app(msgspec.structs.replace(settings, slow_request_ms=0))
    async with AsyncTestClient(app=app) as c:
        headers, _ = await sign_in(c, operator_token(settings, "ada", role="read"))
        seen = await c.get("/api/static-data")
        rid, timing = seen.headers["x-request-id"], seen.headers["server-timing"]
        deadline, found = time.monotonic() + 5, []
        while time.monotonic() < deadline and not found:
            listed = await c.get("/console/slow-requests", headers=headers)
            assert listed.status_code == 200, listed.text
            found = [r for r in listed.json()["items"] if r["request_id"] == rid]
            await asyncio.sleep(0.05)
        assert listed.json()["threshold_ms"] == 0
        assert len(found) == 1
        assert found[0]["server_timing"] == timing
        assert (found[0]["method"], found[0]["status"]) == ("GET", seen.status_code)
        assert found[0]["total_ms"] >= found[0]["db_ms"]
        assert (await c.get("/console/slow-requests")).status_code == 401
