"""One contract for the metrics, run against the in-memory recorder and the real Prometheus metrics, opened
as every process opens them (`open_metrics`).

The real metrics are one per process (prometheus-client's values are global), so they are opened on the
session's metrics folder, which the in-process app and the processes the tests start share: every label
recorded here is new, so the counts read back are this test's alone.
"""

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from config.settings import Settings
from config.wiring.resources import open_metrics
from domain.adapters.memory.metrics import InMemoryMetrics
from domain.adapters.null_metrics import NullMetrics
from domain.ports.metrics import Metrics
from tests.conftest import with_settings
from tests.http.test_metrics import parse, value

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "prometheus"])
async def metrics(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Metrics]:
    if request.param == "memory":
        yield InMemoryMetrics()
        return
    opened = open_metrics(with_settings(settings, metrics=True))
    yield opened
    opened.close()


def label() -> str:
    return f"/contract/{uuid.uuid4().hex[:12]}"


def record_everything(metrics: Metrics, name: str) -> None:
    """Every recording method, with ordinary values and with odd ones."""
    metrics.request(name, "GET", 200, 0.0123, 512, "br")
    metrics.request(name, "POST", 503, 0.0, 0, "identity")
    metrics.request(name, "GET", 200, 99_999.0, 10**9, "zstd")  # beyond the last bucket
    metrics.slow_request(name)
    metrics.cache(name, "hit")
    metrics.cache(name, "error")
    metrics.query(name, 0.0004)
    metrics.pool(size=3, idle=1, waiting=0, max_size=50, timeouts=2)
    metrics.valkey_error(name)
    metrics.breaker(name, "open")
    metrics.breaker(name, "no-such-state")
    metrics.host(55.5, 101.0)
    metrics.reports({"queued": 2, "no-such-status": 1}, 3, 4.5)
    metrics.report_attempt("succeeded", 1.5)
    metrics.report_attempt("superseded", 0.1)
    metrics.costs(instance_hour=0.1, bandwidth_gb=0.09, fixed_month=30.0, budget=500.0)
    metrics.instance_bounds(name, 1, 4)
    metrics.set_fleet(name, 2, 3, 40.0, 50.0)


async def test_recording_never_raises_on_the_loop_or_on_other_threads(metrics: Metrics):
    assert metrics.enabled is True
    record_everything(metrics, label())
    name = label()

    def from_a_thread() -> None:  # the methods documented for any thread
        metrics.valkey_error(name)
        metrics.breaker(name, "half-open")
        metrics.host(1.0, 2.0)

    threads = [threading.Thread(target=from_a_thread) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    exposition = await metrics.exposition()
    assert exposition is not None
    body, content_type = exposition
    assert content_type.startswith("text/plain")
    assert isinstance(body, bytes)


async def test_watched_samplers_run_every_tick_until_unwatched(metrics: Metrics):
    calls = {"kept": 0, "dropped": 0}
    keep = metrics.watch(lambda: calls.__setitem__("kept", calls["kept"] + 1))
    drop = metrics.watch(lambda: calls.__setitem__("dropped", calls["dropped"] + 1))
    runner = asyncio.create_task(metrics.run())
    try:
        await eventually(lambda: calls["dropped"] >= 1)  # "every second"
        drop()
        dropped, kept = calls["dropped"], calls["kept"]
        await eventually(lambda: calls["kept"] > kept)  # another tick came
        assert calls["dropped"] == dropped
    finally:
        runner.cancel()
        keep()
    with pytest.raises(asyncio.CancelledError):
        await runner  # it runs until cancelled


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# --- Prometheus only: the exposition shows what was recorded --------------------------------------------
async def test_the_exposition_shows_what_was_recorded(settings: Settings):
    metrics = open_metrics(with_settings(settings, metrics=True))
    route = label()
    try:
        metrics.request(route, "GET", 200, 0.002, 300, "br")
        metrics.request(route, "GET", 200, 0.2, 200, "br")
        metrics.cache(route, "miss")
        metrics.query(route, 0.003)
        metrics.slow_request(route)
        metrics.set_fleet(route, 2, 5, 40.0, 50.0)
        exposition = await metrics.exposition()  # publishes what is batched first
    finally:
        metrics.close()
    assert exposition is not None
    samples = parse(exposition[0].decode())
    http = {"route": route, "method": "GET", "status": "200"}
    assert value(samples, "folio_http_requests_total", **http) == 2
    assert value(samples, "folio_http_request_duration_seconds_bucket", **http, le="0.0025") == 1
    assert value(samples, "folio_http_response_bytes_total", route=route, encoding="br") == 500
    assert value(samples, "folio_cache_requests_total", cache=route, result="miss") == 1
    assert value(samples, "folio_db_query_duration_seconds_count", query=route) == 1
    assert value(samples, "folio_http_slow_requests_total", route=route) == 1
    assert value(samples, "folio_desired_instances", process=route) == 5


async def test_metrics_switched_off_record_nothing_and_expose_nothing():
    off = NullMetrics()
    assert off.enabled is False
    record_everything(off, label())
    assert await off.exposition() is None
