"""`/metrics`: who may read it, and what a request, a cache lookup and a query leave in it."""

import time
from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from config.settings import Settings

pytestmark = [pytest.mark.http, pytest.mark.integration]

PORTFOLIO = "/api/user/{user_id}/portfolio"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def scrape(client: AsyncTestClient[Litestar]) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return parse(response.text)


async def scrape_until(
    client: AsyncTestClient[Litestar], ready: Callable[[Samples], bool], timeout_s: float = 10.0
) -> Samples:
    """Scrape until `ready` holds (gauges are sampled every second), or fail with the last scrape."""
    deadline = time.monotonic() + timeout_s
    while True:
        samples = await scrape(client)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        await client.get("/health/live")  # let the sampler run
        time.sleep(0.2)


async def test_metrics_refuse_anonymous_and_user_tokens(client, auth_headers):
    anonymous = await client.get("/metrics", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    user = await client.get("/metrics", headers=auth_headers(1))
    assert user.status_code == 403
    assert user.headers["content-type"].startswith("application/problem+json")


async def test_metrics_serve_an_operator_the_prometheus_text_format(client):
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE folio_http_requests_total counter" in response.text


async def test_requests_are_counted_by_route_template_method_and_status(client, auth_headers):
    before = await scrape(client)
    for user in (11, 12, 11):
        assert (await client.get(f"/api/user/{user}/portfolio", headers=auth_headers(user))).status_code == 200
    assert (await client.get("/api/user/12/portfolio", headers=auth_headers(11))).status_code == 403
    assert (await client.get("/no/such/route")).status_code == 404
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return moved(before, after, name, **labels)

    ok = {"route": PORTFOLIO, "method": "GET", "status": "200"}
    assert delta("folio_http_requests_total", **ok) == 3
    assert delta("folio_http_request_duration_seconds_count", **ok) == 3
    assert delta("folio_http_request_duration_seconds_bucket", **ok, le="+Inf") == 3
    assert delta("folio_http_requests_total", route=PORTFOLIO, method="GET", status="403") == 1
    assert delta("folio_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("folio_http_response_bytes_total", route=PORTFOLIO, encoding="identity") > 0
    assert not any("/api/user/11/" in labels for _, label_set in after for labels in dict(label_set).values())


async def settled(client: AsyncTestClient[Litestar], name: str, **labels: str) -> Samples:
    """A scrape after which `name` stopped moving: processes other tests started and stopped share
    the metrics folder, and one may still be publishing its last second of counts."""
    previous = await scrape(client)
    for _ in range(10):
        time.sleep(1.2)  # longer than a process's publishing period (1 s): no count is still on its way
        current = await scrape(client)
        if value(current, name, **labels) == value(previous, name, **labels):
            return current
        previous = current
    return previous


async def test_bytes_are_counted_by_content_encoding(client):
    labels = {"route": "/api/market-data", "encoding": "gzip"}
    before = await settled(client, "folio_http_response_bytes_total", **labels)
    async with client.stream("GET", "/api/market-data", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        wire = b"".join([chunk async for chunk in response.aiter_raw()])  # as sent, not decoded
    after = await scrape(client)
    assert moved(before, after, "folio_http_response_bytes_total", **labels) == len(wire)


async def test_cache_misses_then_hits_are_counted(client, auth_headers):
    user = 4321  # read by no other test
    before = await scrape(client)
    first = await client.get(f"/api/user/{user}/portfolio", headers=auth_headers(user))
    second = await client.get(f"/api/user/{user}/portfolio", headers=auth_headers(user))
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    after = await scrape(client)
    for result in ("miss", "hit"):
        assert moved(before, after, "folio_cache_requests_total", cache="holdings", result=result) >= 1, result


async def test_database_queries_are_timed_by_name(client, auth_headers):
    await client.get("/api/user/4322/portfolio", headers=auth_headers(4322))  # a miss: one holdings query
    samples = await scrape(client)
    assert value(samples, "folio_db_query_duration_seconds_count", query="holdings.get") >= 1
    assert value(samples, "folio_db_query_duration_seconds_count", query="quotes.snapshot") >= 1


async def test_pool_host_breaker_and_cost_gauges_are_exported(client, settings: Settings):
    samples = await scrape_until(client, lambda s: value(s, "folio_db_pool_max") > 0)
    assert value(samples, "folio_db_pool_max") >= settings.database_pool_size + settings.max_overflow
    assert value(samples, "folio_db_pool_size") >= 1
    assert ("folio_db_pool_idle", frozenset()) in samples
    assert ("folio_db_pool_waiting", frozenset()) in samples
    assert ("folio_db_pool_wait_timeouts_total", frozenset()) in samples
    assert ("folio_host_cpu_percent", frozenset()) in samples
    assert 0 < value(samples, "folio_host_memory_percent") <= 100
    assert value(samples, "folio_circuit_breaker_state", breaker="cache") == 0
    assert value(samples, "folio_instance_price_usd_per_hour") == pytest.approx(settings.instance_price_per_hour)
    fixed = settings.cache_price_per_month + settings.database_price_per_month
    assert value(samples, "folio_fixed_monthly_cost_usd") == pytest.approx(fixed)
    assert value(samples, "folio_monthly_budget_usd") == pytest.approx(settings.monthly_budget_usd)
    assert value(samples, "folio_max_instances", process="web") == settings.max_instances
    assert value(samples, "folio_max_instances", process="worker") == settings.worker_max_instances
