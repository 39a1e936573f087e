"""Security headers on every response, the docs page under its strict CSP, CORS, trusted hosts."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.conftest import with_settings

pytestmark = [pytest.mark.http, pytest.mark.integration]

COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


@asynccontextmanager
async def app_client(settings, headers, base_url="http://testserver.local", **changes) -> AsyncIterator:
    async with AsyncTestClient(app=create_app(with_settings(settings, **changes)), base_url=base_url) as c:
        c.headers.update(headers)
        yield c


def assert_common(response):
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (response.url, name)
    assert "server" not in response.headers or "/" not in response.headers["server"]  # no version


@pytest.mark.parametrize(
    "path",
    ["/health/live", "/api/user/1/portfolio", "/api/user/1/trades", "/api/market-data/AAPL", "/nowhere", "/docs"],
)
async def test_every_response_carries_the_security_headers(client, path):
    response = await client.get(path)
    assert_common(response)
    assert "content-security-policy" in response.headers
    assert "strict-transport-security" not in response.headers  # plain HTTP here


async def test_user_data_is_no_store_and_shared_documents_keep_their_caching(client):
    for path in ("/api/user/1/portfolio", "/api/user/1/trades"):
        assert (await client.get(path)).headers["cache-control"] == "no-store"
    assert (await client.get("/api/user/1/portfolio")).headers["cache-control"] == "no-store"  # fast lane too
    assert "public" in (await client.get("/api/static-data/instruments")).headers["cache-control"]


async def test_the_docs_page_works_offline_under_a_strict_csp(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in page.text  # no inline script for the CSP to forbid
    for src in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/swagger-init.js"):
        assert src in page.text
        asset = await client.get(src)
        assert asset.status_code == 200, src
        assert asset.content
    spec = await client.get("/docs/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "Folio"


async def test_hsts_over_tls_and_from_a_trusted_proxy_only(settings, operator_headers):
    async with app_client(settings, operator_headers, base_url="https://testserver.local") as tls:
        response = await tls.get("/api/user/1/portfolio")
        assert response.headers["strict-transport-security"].startswith("max-age=")
    forwarded = {**operator_headers, "X-Forwarded-Proto": "https"}
    async with app_client(settings, forwarded) as untrusted:
        assert "strict-transport-security" not in (await untrusted.get("/health/live")).headers
    async with app_client(settings, forwarded, trust_proxy_headers=True) as trusted:
        assert "strict-transport-security" in (await trusted.get("/health/live")).headers


async def test_cors_is_closed_by_default(client):
    origin = {"Origin": "https://evil.example"}
    response = await client.get("/api/user/1/portfolio", headers=origin)
    assert not any(name.startswith("access-control-") for name in response.headers)
    preflight = await client.options(
        "/api/user/1/portfolio", headers={**origin, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_opens_to_the_configured_origins_on_both_lanes(settings, operator_headers):
    async with app_client(settings, operator_headers, cors_allow_origins="https://app.example") as c:
        ok = await c.get("/api/user/1/portfolio", headers={"Origin": "https://app.example"})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        other = await c.get("/api/user/1/portfolio", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = await c.options(
            "/api/user/1/trades",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code in (200, 204)
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"


async def test_a_foreign_host_is_refused_with_problem_details(settings, operator_headers):
    async with app_client(settings, operator_headers, allowed_hosts="api.example.com,*.folio.test") as c:
        assert (await c.get("/api/user/1/portfolio", headers={"Host": "api.example.com"})).status_code == 200
        assert (await c.get("/health/live", headers={"Host": "eu.folio.test:8443"})).status_code == 200
        refused = await c.get("/api/user/1/portfolio", headers={"Host": "evil.example"})
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        assert "host" in refused.json()["detail"].lower()
        assert_common(refused)
