"""Metrics across processes: two granian web processes and a Dramatiq worker share one folder, and
any of them (or the unauthenticated METRICS_BIND listener) serves the sum."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cli.embedded import EmbeddedServers, free_port
from tests.http.test_metrics import PORTFOLIO, Samples, parse, value
from tests.processes import WebProcess, WorkerProcess, web_processes, worker_process

pytestmark = [pytest.mark.http, pytest.mark.integration]


class Fleet:
    def __init__(self, webs: list[WebProcess], worker: WorkerProcess, bind_url: str) -> None:
        self.webs = webs
        self.worker = worker
        self.bind_url = bind_url


@pytest.fixture(scope="module")
def fleet(
    process_env: dict[str, str], servers: EmbeddedServers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    directory: Path = tmp_path_factory.mktemp("metrics")  # these processes' metrics only
    bind = f"127.0.0.1:{free_port()}"
    env = {**process_env, "METRICS_DIR": str(directory), "METRICS_BIND": bind}
    logs = servers.data_dir / "metrics-logs"
    with web_processes(env, 2, logs) as webs, worker_process(env, logs / "worker.log") as worker:
        yield Fleet(webs, worker, f"http://{bind}/metrics")


def scrape_until(url: str, headers: dict[str, str], ready: Callable[[Samples], bool], timeout_s: float = 20) -> Samples:
    """Scrape until `ready` holds (each process publishes every second), or return the last scrape."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(url, headers=headers)
        assert response.status_code == 200, response.text
        samples = parse(response.text)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def test_only_an_operator_reads_metrics_on_the_api_port_while_the_bind_address_is_open(fleet, auth_headers):
    url = f"{fleet.webs[0].url}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=auth_headers(1)).status_code == 403
    open_port = httpx.get(fleet.bind_url)
    assert open_port.status_code == 200
    assert "folio_http_requests_total" in open_port.text


def test_the_total_is_the_sum_of_what_each_process_served(fleet, auth_headers, operator_headers):
    served = {0: 5, 1: 3}
    for index, count in served.items():
        for user in range(1, count + 1):
            response = httpx.get(f"{fleet.webs[index].url}/api/user/{user}/portfolio", headers=auth_headers(user))
            assert response.status_code == 200
    ok = {"route": PORTFOLIO, "method": "GET", "status": "200"}
    expected = sum(served.values())

    def summed(samples: Samples) -> bool:
        return value(samples, "folio_http_requests_total", **ok) == expected

    for url, headers in ((f"{fleet.webs[1].url}/metrics", operator_headers), (fleet.bind_url, {})):
        samples = scrape_until(url, headers, summed)
        assert value(samples, "folio_http_requests_total", **ok) == expected
        assert value(samples, "folio_http_request_duration_seconds_count", **ok) == expected
        # Pool gauges add up over the live processes: two web processes and one worker process.
        per_process = value(samples, "folio_db_pool_max") / 3
        assert per_process == int(per_process)
        assert per_process > 0


def test_a_report_run_by_the_worker_shows_in_the_web_processes_metrics(fleet, auth_headers, operator_headers):
    web = fleet.webs[0].url
    accepted = httpx.post(f"{web}/api/generate-report?user_id=3", headers=auth_headers(3))
    assert accepted.status_code == 202
    status_url = f"{web}{accepted.json()['status_url']}"
    deadline = time.monotonic() + 60
    while httpx.get(status_url, headers=auth_headers(3)).json()["status"] != "succeeded":
        assert time.monotonic() < deadline, "the report never succeeded"
        time.sleep(0.1)
    samples = scrape_until(
        f"{web}/metrics",
        operator_headers,
        lambda s: value(s, "folio_reports_completed_total", status="succeeded") >= 1,
    )
    assert value(samples, "folio_reports_completed_total", status="succeeded") >= 1
    assert value(samples, "folio_report_duration_seconds_count") >= 1
    assert ("folio_reports", frozenset({("status", "queued")})) in samples
    assert ("folio_report_queue_depth", frozenset()) in samples
