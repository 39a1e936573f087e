"""With PROMETHEUS_URL set, the console's hour of history comes from a real Prometheus that scrapes the web
process: the points a console receives are Prometheus's own answers for the same moments."""

import json
import math
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.embedded import EmbeddedServers, free_port
from cli.embedded.processes import spawn
from domain.adapters.prometheus_history import SERIES
from tests.conftest import HeadersFactory, TokenFactory
from tests.deploy.test_prometheus_scrape import PrometheusServer, scrape_config, value
from tests.processes import WebProcess

pytestmark = [pytest.mark.integration]
WAIT_S = 60.0


class PinnedPrometheus(PrometheusServer):
    """A Prometheus on a port chosen before the web process starts (which is told its URL)."""

    def __init__(self, binary: Path, config: Path, log_path: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        args = [
            str(binary), f"--config.file={config}", f"--storage.tsdb.path={config.parent / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        ]  # fmt: skip
        self.proc = spawn(args, log_path, cwd=config.parent, death_signal=signal.SIGTERM)


@pytest.fixture(scope="module")
def watched(
    prometheus_binary: Path, process_env: dict[str, str], servers: EmbeddedServers, token: TokenFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[WebProcess, PinnedPrometheus]]:  # fmt: skip
    """A web process whose console reads Prometheus, and that Prometheus scraping it every second."""
    port, home = free_port(), tmp_path_factory.mktemp("console-prometheus")
    log_dir = servers.data_dir / "console-prometheus"
    log_dir.mkdir(exist_ok=True)
    env = {**process_env, "METRICS_DIR": str(tmp_path_factory.mktemp("console-metrics")),
           "PROMETHEUS_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    web = WebProcess(env, workers=1, log_path=log_dir / "web.log")
    prometheus = None
    try:
        web.wait_ready()
        (home / "folio-token").write_text(token("prometheus", "operator"))
        config = scrape_config(home, web.port, home / "folio-token")
        prometheus = PinnedPrometheus(prometheus_binary, config, log_dir / "prometheus.log", port)
        prometheus.wait_until("the Folio target up", lambda: [value(s) for s in prometheus.query("up")] == [1.0])
        yield web, prometheus
    finally:
        if prometheus is not None:
            prometheus.stop()
        web.stop()


def console_events(web: WebProcess, operator: str) -> Iterator[tuple[str, Any]]:
    """Sign in as a browser would and read the console's events (name, data) as they come."""
    with httpx.Client(base_url=web.url, timeout=30) as client:
        signed = client.post("/console/session", json={"token": operator})
        assert signed.status_code == 201, signed.text
        cookie = signed.headers["set-cookie"].split(";", 1)[0]  # Secure: sent by hand over plain http
        with client.stream("GET", "/console/events", headers={"Cookie": cookie}) as stream:
            name = ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    yield name, json.loads(line.removeprefix("data: "))


def history_with_traffic(web: WebProcess, operator: str) -> list[dict[str, Any]]:
    """The history a new console gets, once it holds a point with requests (the sampler reads every 10 s)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for name, data in console_events(web, operator):
            if name == "history" and any((p.get("rps") or 0) > 0 for p in data):
                return list(data)
            break
        time.sleep(2)
    pytest.fail(f"no history with traffic in {WAIT_S} s; web log:\n{web.log_path.read_text()[-2000:]}")


def test_the_console_history_is_prometheus_answer_for_the_same_moments(
    watched: tuple[WebProcess, PinnedPrometheus], token: TokenFactory, auth_headers: HeadersFactory
) -> None:
    web, prometheus = watched
    with httpx.Client(base_url=web.url, headers=auth_headers(1), timeout=10) as client:
        for _ in range(30):
            assert client.get("/api/user/1/portfolio").status_code == 200
    prometheus.wait_until("the requests", lambda: bool(prometheus.query("sum(folio_http_requests_total) > 30")))
    operator = token("history-watcher", "operator")
    history = history_with_traffic(web, operator)
    moments = [p["t"] for p in history]
    assert moments == sorted(moments)
    assert all(t % 10 == 0 for t in moments), "Prometheus's steps, not the process's own sampling moments"
    busy = [p for p in history if (p.get("rps") or 0) > 0]
    for p in busy[-3:]:
        answer = prometheus.api("query", query=SERIES["rps"], time=str(p["t"]))["result"]
        assert math.isclose(p["rps"], value(answer[0]), rel_tol=1e-3, abs_tol=5e-5), (p, answer)  # 4 places kept
    assert {"p99_ms", "hit_ratio", "pool_in_use", "queue_depth", "projected_usd"} <= set(busy[-1])
    for name, data in console_events(web, operator):
        if name == "snapshot":
            assert data["history_from"] == "prometheus"
            break
