"""The report routes through the app (no worker): 202 + Location, idempotency, errors, ownership."""

import subprocess
import sys
import uuid

import pytest

from tests.http.test_api_keys import bearer, new_key
from tests.processes import ROOT

pytestmark = [pytest.mark.http, pytest.mark.integration]


async def test_a_report_request_is_accepted_with_its_status_url(client):
    r = await client.post("/api/generate-report?user_id=4301")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued"
    assert set(body) == {"status", "task_id", "estimated_completion", "status_url"}
    assert body["status_url"] == f"/api/reports/{body['task_id']}" == r.headers["location"]
    status = (await client.get(body["status_url"])).json()
    assert status["status"] == "queued"
    assert status["user_id"] == 4301
    assert status["document_url"] is None
    not_ready = await client.get(f"{body['status_url']}/document")
    assert not_ready.status_code == 409
    assert not_ready.headers["content-type"].startswith("application/problem+json")


async def test_the_user_may_be_named_in_a_json_body_as_the_original_clients_did(client):
    alone = await client.post("/api/generate-report", json={"user_id": 4302})
    assert alone.status_code == 202, alone.text
    assert (await client.get(alone.headers["location"])).json()["user_id"] == 4302
    both = await client.post("/api/generate-report?user_id=4302", json={"user_id": 4302})
    assert both.status_code == 202, both.text
    differ = await client.post("/api/generate-report?user_id=4302", json={"user_id": 4301})
    assert differ.status_code == 400
    assert [e["field"] for e in differ.json()["errors"]] == ["user_id"]
    null = await client.post("/api/generate-report?user_id=null", json={"user_id": 4302})
    assert null.status_code == 400
    neither = await client.post("/api/generate-report")
    assert neither.status_code == 400
    assert [e["field"] for e in neither.json()["errors"]] == ["user_id"]


async def test_a_repeated_idempotency_key_returns_the_same_report(client):
    key = f"report-{uuid.uuid4()}"
    first = await client.post("/api/generate-report?user_id=4303", headers={"Idempotency-Key": key})
    again = await client.post("/api/generate-report?user_id=4303", headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert again.json()["task_id"] == first.json()["task_id"]
    assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/generate-report", None, 400, "user_id"),
        ("/api/generate-report?user_id=0", None, 400, "user_id"),
        ("/api/generate-report?user_id=abc", None, 400, "user_id"),
        ("/api/generate-report", {"user_id": "seven"}, 400, "user_id"),
        ("/api/generate-report", {"user": 1}, 400, "user"),  # the unknown field is the one at fault
        ("/api/generate-report?user_id=9223372036854775808", None, 400, "user_id"),
    ],
)
async def test_bad_requests_name_the_field(client, path, body, status, field):
    r = await client.post(path, json=body) if body is not None else await client.post(path)
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["field"] == field


async def test_unknown_user_and_unknown_or_malformed_report_ids(client):
    assert (await client.post("/api/generate-report?user_id=999999999")).status_code == 404
    missing = await client.get(f"/api/reports/{uuid.uuid4()}")
    assert missing.status_code == 404
    bad = await client.get("/api/reports/not-a-uuid")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "task_id"
    assert (await client.get("/api/reports/not-a-uuid/document")).status_code == 400


async def test_a_user_reaches_only_their_own_reports(client, auth_headers):
    own = await client.post("/api/generate-report?user_id=4304", headers=auth_headers(4304))
    assert own.status_code == 202, own.text
    url = own.headers["location"]
    assert (await client.get(url, headers=auth_headers(4304))).status_code == 200
    assert (await client.get(url, headers=auth_headers(4305))).status_code == 403
    assert (await client.get(f"{url}/document", headers=auth_headers(4305))).status_code == 403
    other = await client.post("/api/generate-report?user_id=4304", headers=auth_headers(4305))
    assert other.status_code == 403
    assert (await client.get("/api/ops/reports", headers=auth_headers(4304))).status_code == 403


async def test_operators_page_through_reports_by_status_newest_first(client):
    ids = [(await client.post("/api/generate-report?user_id=4306")).json()["task_id"] for _ in range(3)]
    first = (await client.get("/api/ops/reports?status=queued&limit=2")).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = (await client.get(f"/api/ops/reports?status=queued&limit=500&cursor={first['next_cursor']}")).json()
    seen = [item["task_id"] for item in first["items"] + second["items"]]
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in ids] == list(reversed(ids))
    assert (await client.get("/api/ops/reports?status=lost")).status_code == 400
    assert (await client.get("/api/ops/reports?cursor=bogus")).status_code == 422


def test_the_web_process_never_imports_the_report_renderer_or_its_libraries():
    code = (
        "import sys, gateway.app; "
        "heavy = ('matplotlib', 'reportlab', 'numpy', 'domain.adapters.pdf', 'config.wiring.worker'); "
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


async def test_the_usual_form_and_the_body_form_answer_alike(client):
    # The usual form (the user in the query, no body) is answered ahead of the framework; the body form is not.
    key = f"report-{uuid.uuid4()}"
    usual = await client.post("/api/generate-report?user_id=4307", headers={"Idempotency-Key": key})
    body_form = await client.post("/api/generate-report", json={"user_id": 4307}, headers={"Idempotency-Key": key})
    assert usual.status_code == body_form.status_code == 202
    assert usual.content == body_form.content
    assert (usual.headers["content-type"], usual.headers["location"]) == (
        body_form.headers["content-type"],
        body_form.headers["location"],
    )
    assert "idempotent-replayed" not in usual.headers
    assert body_form.headers["idempotent-replayed"] == "true"
    assert set(usual.headers) | {"idempotent-replayed"} == set(body_form.headers)


async def test_a_malformed_idempotency_key_or_a_key_without_the_scope_gets_the_routes_problem(client):
    spaced = await client.post("/api/generate-report?user_id=4308", headers={"Idempotency-Key": "two words"})
    assert spaced.status_code == 400
    assert [e["field"] for e in spaced.json()["errors"]] == ["idempotency_key"]
    reader = (await new_key(client, 4308, scopes=["read"]))["key"]
    refused = await client.post("/api/generate-report?user_id=4308", headers=bearer(reader))
    assert (refused.status_code, refused.headers["content-type"]) == (403, "application/problem+json")
    assert "'reports'" in refused.json()["detail"]
    reporter = (await new_key(client, 4308, scopes=["reports"]))["key"]
    assert (await client.post("/api/generate-report?user_id=4308", headers=bearer(reporter))).status_code == 202
