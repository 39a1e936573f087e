"""The console's history read from Prometheus's HTTP API: one `query_range` per charted series, over the hour.

The expressions give what the web process's own ring holds for the same moments (gateway/console/panels.py):
rates over the last minute of the counters every process exports, and the gauges as they stood. Called by the
console's sampler every 10 s, never by a request.
"""

import asyncio
import math

import httpx
import msgspec

from domain.errors import UnavailableError
from domain.ports.metric_history import MetricHistory, Point

HOUR_S = 3600.0
RATE = "[1m]"
HOURS_PER_MONTH = 730.0
SERIES: dict[str, str] = {
    "rps": f"sum(rate(folio_http_requests_total{RATE}))",
    "errors_per_s": f'sum(rate(folio_http_requests_total{{status=~"5.."}}{RATE})) or vector(0)',
    "p50_ms": f"histogram_quantile(0.5, sum by (le) (rate(folio_http_request_duration_seconds_bucket{RATE}))) * 1000",
    "p99_ms": f"histogram_quantile(0.99, sum by (le) (rate(folio_http_request_duration_seconds_bucket{RATE}))) * 1000",
    "hit_ratio": (
        f'sum(rate(folio_cache_requests_total{{result="hit"}}{RATE})) / sum(rate(folio_cache_requests_total{RATE}))'
    ),
    "pool_in_use": "sum(folio_db_pool_size) - sum(folio_db_pool_idle)",
    "queue_depth": "max(folio_report_queue_depth)",
    # The month priced as the Cost panel prices it: instances by the hour, cache and database, bandwidth.
    "projected_usd": (
        'sum(max by (process) (folio_fleet_instances{process=~"web|worker"}))'
        f" * scalar(max(folio_instance_price_usd_per_hour)) * {HOURS_PER_MONTH}"
        " + scalar(max(folio_fixed_monthly_cost_usd))"
        f" + sum(rate(folio_http_response_bytes_total{RATE})) * {HOURS_PER_MONTH * 3600 / 1e9}"
        " * scalar(max(folio_bandwidth_price_usd_per_gb))"
    ),
}  # fmt: skip


class _Series(msgspec.Struct):
    values: list[tuple[float, str]]


class _Data(msgspec.Struct):
    result: list[_Series]


class _Answer(msgspec.Struct):
    status: str
    data: _Data | None = None
    error: str = ""


_ANSWER = msgspec.json.Decoder(_Answer)


def _number(text: str) -> float | None:
    value = float(text)
    return None if math.isnan(value) or math.isinf(value) else round(value, 4)


class PrometheusHistory(MetricHistory):
    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        # Its own client and timeouts: a slow Prometheus delays the history, never a request.
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)))
        self._url = base_url.rstrip("/") + "/api/v1/query_range"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _range(self, query: str, start: float, end: float, step_s: float) -> dict[float, float | None]:
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"}
        try:
            answer = await self._client.get(self._url, params=params)
            parsed = _ANSWER.decode(answer.content)
        except (httpx.HTTPError, msgspec.DecodeError) as e:
            raise UnavailableError(f"Prometheus did not answer ({type(e).__name__})") from e
        if parsed.status != "success" or parsed.data is None:
            raise UnavailableError(f"Prometheus refused a history query: {parsed.error or answer.status_code}")
        found: dict[float, float | None] = {}
        for series in parsed.data.result:  # each expression aggregates to one series (or none before data)
            found.update((round(t, 3), _number(v)) for t, v in series.values)
        return found

    async def hour(self, end: float, step_s: float) -> list[Point]:
        end = math.floor(end / step_s) * step_s  # aligned, so each fetch lands on the same moments
        start = end - HOUR_S
        names = list(SERIES)
        ranges = await asyncio.gather(*(self._range(SERIES[n], start, end, step_s) for n in names))
        moments = sorted({t for found in ranges for t in found})
        return [{"t": t, **{n: found.get(t) for n, found in zip(names, ranges, strict=True)}} for t in moments]
