"""A real Prometheus, configured from deploy/prometheus/, scrapes a running Folio and reads it back."""

import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.embedded import EmbeddedServers, free_port
from cli.embedded.processes import spawn, stop_process
from tests.conftest import HeadersFactory, TokenFactory
from tests.deploy.test_prometheus_rules import EXAMPLE_TOKEN_FILE, PROMETHEUS_DIR, RULE_FILES
from tests.processes import WebProcess

pytestmark = [pytest.mark.integration]

PORTFOLIO = 'route=~".*/portfolio"'
BATCHES = (5, 7)  # two batches, each scraped before the next, so the counter grows between scrapes
WAIT_S = 30.0
BUDGET = "1234.5"
Vector = list[dict[str, Any]]


class PrometheusServer:
    """`prometheus` on a free local port with its own storage, stopped by its pid."""

    def __init__(self, binary: Path, config: Path, log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log_path = log_path
        args = [
            str(binary), f"--config.file={config}", f"--storage.tsdb.path={config.parent / 'data'}",
            f"--web.listen-address={self.url.removeprefix('http://')}", "--log.level=warn",
        ]  # fmt: skip
        self.proc = spawn(args, log_path, cwd=config.parent, death_signal=signal.SIGTERM)

    def api(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5)
        answer.raise_for_status()
        return answer.json()["data"]

    def query(self, promql: str) -> Vector:
        result: Vector = self.api("query", query=promql)["result"]
        return result

    def wait_until(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited; log:\n{self.log_path.read_text()[-3000:]}")
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass  # not listening yet
            time.sleep(0.2)
        targets = self.api("targets")["activeTargets"]
        pytest.fail(f"Prometheus never saw {what} in {WAIT_S} s; targets: {targets}")

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM, 10)


def value(sample: dict[str, Any]) -> float:
    return float(sample["value"][1])


def scrape_config(dest: Path, folio_port: int, token_file: Path) -> Path:
    """deploy/prometheus/prometheus.yml with its rules, scraping every second the Folio under test."""
    config = (PROMETHEUS_DIR / "prometheus.yml").read_text()
    changes = {
        "scrape_interval: 15s": "scrape_interval: 1s",
        "evaluation_interval: 15s": "evaluation_interval: 1s",
        EXAMPLE_TOKEN_FILE: str(token_file),
        '"127.0.0.1:8000"': f'"127.0.0.1:{folio_port}"',
    }
    for old, new in changes.items():
        assert old in config, f"deploy/prometheus/prometheus.yml no longer has {old!r}"
        config = config.replace(old, new)
    for rules in RULE_FILES:
        shutil.copy(rules, dest / rules.name)
    (dest / "prometheus.yml").write_text(config)
    return dest / "prometheus.yml"


@pytest.fixture(scope="module")
def folio(
    prometheus_binary: Path, process_env: dict[str, str], servers: EmbeddedServers,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WebProcess]:  # fmt: skip
    """A web process of two Granian workers with metrics of its own (a fresh multiprocess folder)."""
    env = {**process_env, "METRICS_DIR": str(tmp_path_factory.mktemp("folio-metrics")), "MONTHLY_BUDGET_USD": BUDGET}
    log_dir = servers.data_dir / "prometheus-test"
    log_dir.mkdir(exist_ok=True)
    web = WebProcess(env, workers=2, log_path=log_dir / "web.log")
    try:
        web.wait_ready()
        yield web
    finally:
        web.stop()


@pytest.fixture(scope="module")
def prometheus(
    prometheus_binary: Path, folio: WebProcess, token: TokenFactory, servers: EmbeddedServers,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrometheusServer]:  # fmt: skip
    """Prometheus scraping `folio` with an operator token, once it has seen the target up."""
    home = tmp_path_factory.mktemp("prometheus")
    token_file = home / "folio-token"
    token_file.write_text(token("prometheus", "operator"))
    config = scrape_config(home, folio.port, token_file)
    server = PrometheusServer(prometheus_binary, config, servers.data_dir / "prometheus-test" / "prometheus.log")
    try:
        server.wait_until("the Folio target up", lambda: [value(s) for s in server.query('up{job="folio"}')] == [1.0])
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def portfolio_reads(prometheus: PrometheusServer, folio: WebProcess, auth_headers: HeadersFactory) -> int:
    """Reads of user 1's portfolio in two batches, each seen by a scrape; how many in all."""
    total = 0

    def scraped() -> bool:
        return bool(prometheus.query(f"sum(folio_http_requests_total{{job='folio',{PORTFOLIO}}}) == {total}"))

    with httpx.Client(base_url=folio.url, headers=auth_headers(1), timeout=10) as client:
        for batch in BATCHES:
            for _ in range(batch):
                assert client.get("/api/user/1/portfolio").status_code == 200
            total += batch
            prometheus.wait_until(f"{total} portfolio requests", scraped)
    return total


def test_prometheus_reads_back_the_request_rate_of_the_route_driven(
    prometheus: PrometheusServer, portfolio_reads: int
) -> None:
    counts = prometheus.query(f"sum by (route) (folio_http_requests_total{{job='folio',{PORTFOLIO}}})")
    assert [value(s) for s in counts] == [portfolio_reads]  # both Granian workers' requests, once each
    (route,) = [s["metric"]["route"] for s in counts]
    assert "{" in route, f"the route label is a template, not the raw path: {route}"
    rates = prometheus.query(f"sum by (route) (rate(folio_http_requests_total{{job='folio',{PORTFOLIO}}}[1m]))")
    assert len(rates) == 1
    assert value(rates[0]) > 0


def test_route_labels_are_templates_only(prometheus: PrometheusServer, portfolio_reads: int) -> None:
    routes = {s["metric"].get("route", "") for s in prometheus.query("count by (route) (folio_http_requests_total)")}
    assert routes
    assert not [route for route in routes if "/user/1/" in route], routes


def test_recording_rules_and_alerts_evaluate_on_real_series(prometheus: PrometheusServer, portfolio_reads: int) -> None:
    recorded = f"folio:http_requests:rate5m{{{PORTFOLIO}}}"
    prometheus.wait_until(recorded, lambda: sum(value(s) for s in prometheus.query(recorded)) > 0)

    def rules() -> list[dict[str, Any]]:
        return [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]

    prometheus.wait_until("every rule evaluated", lambda: all(rule["health"] != "unknown" for rule in rules()))
    broken = {rule["name"]: rule.get("lastError") for rule in rules() if rule["health"] != "ok"}
    assert not broken
    in_files = sum(len(re.findall(r"^ +- (?:record|alert):", path.read_text(), re.M)) for path in RULE_FILES)
    assert len(rules()) == in_files


def test_projected_cost_and_budget_come_from_folio_gauges(prometheus: PrometheusServer, portfolio_reads: int) -> None:
    projected = "folio:cost_usd:projected_monthly > 0"
    prometheus.wait_until("a projected monthly cost", lambda: bool(prometheus.query(projected)))
    assert [value(s) for s in prometheus.query("folio:budget_usd:monthly")] == [float(BUDGET)]
