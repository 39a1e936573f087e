"""`python -m bench.metrics_cost`: what recording one request costs, in microseconds, in multiprocess mode.

Compares prometheus-client's own calls (a counter, a histogram and a bytes counter, children
cached) with Folio's batched recording (the metrics adapter's `request`, plain dicts published once
a second), and prices the rest of the per-request telemetry: the timing context and the
`Server-Timing` header. Runs in a fresh folder under the system's temporary directory.
"""

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram

from config.settings import load_settings
from config.wiring.resources import open_metrics
from domain import timing
from gateway.metrics import content_encoding, server_timing

N = 200_000
ROUTE = "/api/user/{user_id}/portfolio"
HEADERS = [(b"content-type", b"application/json"), (b"x-cache", b"hit"), (b"content-encoding", b"br")]


def per_call_us(work: Callable[[], None], n: int = N) -> float:
    start = time.perf_counter()
    for _ in range(n):
        work()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="folio-metrics-cost-"))
    metrics = open_metrics(load_settings({"METRICS_DIR": str(directory)}))
    registry = CollectorRegistry()  # the same three metrics, for prometheus-client's direct calls
    requests = Counter("bench_requests", "", ["route", "method", "status"], registry=registry).labels(
        ROUTE, "GET", "200"
    )
    duration = Histogram("bench_seconds", "", ["route", "method", "status"], registry=registry).labels(
        ROUTE, "GET", "200"
    )
    sent = Counter("bench_bytes", "", ["route", "encoding"], registry=registry).labels(ROUTE, "br")

    def direct() -> None:
        requests.inc()
        duration.observe(0.00023)
        sent.inc(1500)

    def batched() -> None:
        metrics.request(ROUTE, "GET", 200, 0.00023, 1500, "br")

    def header() -> None:
        spent, token = timing.begin()
        content_encoding(HEADERS)
        server_timing(spent, 0.00023)
        timing.end(token)

    figures = {
        "prometheus-client direct (counter + histogram + bytes)": per_call_us(direct),
        "Folio batched (PrometheusMetrics.request)": per_call_us(batched),
        "timing context + Server-Timing header + encoding": per_call_us(header),
    }
    start = time.perf_counter()
    for _ in range(4_300):  # one second of the portfolio hot path, then one publish
        batched()
    metrics.close()  # publishes what was recorded, as the once-a-second task does
    publish_ms = (time.perf_counter() - start) * 1000
    for name, us in figures.items():
        print(f"{us:7.2f} us  {name}")
    print(f"{publish_ms:7.2f} ms  4,300 batched requests and one publish (a second of the hot path)")


if __name__ == "__main__":
    main()
