import pytest

pytestmark = [pytest.mark.http, pytest.mark.integration]


async def test_health_reports_load_scaling_and_each_dependency(client):
    r = await client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy"
    assert 0 <= body["cpu_percent"] <= 100
    assert 0 <= body["memory_percent"] <= 100
    assert body["scale_recommendation"] in {"up", "down", "maintain"}
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "up",
        "cache": "up",
        "broker": "up",
    }


async def test_liveness_and_readiness(client):
    assert (await client.get("/health/live")).json() == {"status": "alive"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_every_response_has_timing_and_request_id(client):
    r = await client.get("/health/live")
    assert float(r.headers["x-process-time"]) >= 0
    assert len(r.headers["x-request-id"]) == 32


async def test_a_sane_client_request_id_is_echoed_and_an_insane_one_replaced(client):
    r = await client.get("/health/live", headers={"X-Request-ID": "abc-123.def"})
    assert r.headers["x-request-id"] == "abc-123.def"
    r = await client.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces" + "x" * 200})
    assert r.headers["x-request-id"] != "bad id"
    assert len(r.headers["x-request-id"]) == 32


async def test_unknown_route_is_problem_details_with_the_request_id(client):
    r = await client.get("/nope", headers={"X-Request-ID": "trace-1"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 404
    assert body["request_id"] == "trace-1"
    assert r.headers["x-request-id"] == "trace-1"


async def test_docs_and_openapi_are_served_offline(client):
    spec = await client.get("/docs/openapi.json")
    assert spec.status_code == 200
    assert "/api/user/{user_id}/portfolio" in spec.json()["paths"]
    page = await client.get("/docs/")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "https://" not in page.text.split("<body")[0].replace("https://www.w3.org", "")
    js = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200
    assert len(js.content) > 100_000
