"""The console's numbers, read from the Prometheus exposition that `/metrics` serves.

In multiprocess mode the exposition already merges every process of this host, so one reading is the
host's whole state. A `Reading` holds the counters as they stand; two readings give rates (requests
per second, p50/p99 from the histogram buckets' growth, the cache's hit ratio over the interval).
"""

import math
from collections import defaultdict

import msgspec
from prometheus_client.parser import text_string_to_metric_families

HTTP_DURATION = "folio_http_request_duration_seconds"
QUERY_DURATION = "folio_db_query_duration_seconds"
BREAKER_STATES = {0.0: "closed", 1.0: "half-open", 2.0: "open"}
TOP_ROUTES = 12
TOP_QUERIES = 8
HOURS_PER_MONTH = 730.0  # the billing month `cli cost` prices with (8,760 h / 12)
BYTES_PER_GB = 1e9


class Reading(msgspec.Struct, kw_only=True):
    """Counters and gauges at one moment (`at`, epoch seconds)."""

    at: float
    requests: dict[str, float] = msgspec.field(default_factory=dict)  # per route
    errors: dict[str, float] = msgspec.field(default_factory=dict)  # 5xx, per route
    slow: dict[str, float] = msgspec.field(default_factory=dict)  # per route
    buckets: dict[float, float] = msgspec.field(default_factory=dict)  # cumulative, every route together
    cache: dict[str, float] = msgspec.field(default_factory=dict)  # hit, miss, error
    breakers: dict[str, str] = msgspec.field(default_factory=dict)
    gauges: dict[str, float] = msgspec.field(default_factory=dict)  # pool, queue, host, costs: by metric name
    reports: dict[str, float] = msgspec.field(default_factory=dict)  # rows per status
    completed: dict[str, float] = msgspec.field(default_factory=dict)  # reports finished, per final status
    queries: dict[str, tuple[float, float]] = msgspec.field(default_factory=dict)  # name -> (seconds, count)
    fleet: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)  # process -> metric -> value
    messages: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)  # actor -> outcome -> finished


def _add(table: dict[str, float], key: str, value: float) -> None:
    table[key] = table.get(key, 0.0) + value


def _http(reading: Reading, name: str, labels: dict[str, str], value: float) -> None:
    route = labels.get("route", "")
    if name == "folio_http_requests_total":
        _add(reading.requests, route, value)
        if labels.get("status", "").startswith("5"):
            _add(reading.errors, route, value)
    elif name == f"{HTTP_DURATION}_bucket":
        le = float(labels["le"])
        reading.buckets[le] = reading.buckets.get(le, 0.0) + value
    elif name == "folio_http_slow_requests_total":
        _add(reading.slow, route, value)
    elif name == "folio_http_response_bytes_total":
        _add(reading.gauges, name, value)


def _other(reading: Reading, name: str, labels: dict[str, str], value: float) -> None:
    if name == "folio_cache_requests_total":
        _add(reading.cache, labels.get("result", ""), value)
    elif name == "folio_circuit_breaker_state":
        reading.breakers[labels.get("breaker", "")] = BREAKER_STATES.get(value, "open")
    elif name == "folio_reports":
        reading.reports[labels.get("status", "")] = value
    elif name == "folio_reports_completed_total":
        _add(reading.completed, labels.get("status", ""), value)
    elif name in (f"{QUERY_DURATION}_sum", f"{QUERY_DURATION}_count"):
        seconds, count = reading.queries.get(labels.get("query", ""), (0.0, 0.0))
        pair = (seconds + value, count) if name.endswith("_sum") else (seconds, count + value)
        reading.queries[labels.get("query", "")] = pair
    elif name == "folio_worker_messages_total":
        _add(reading.messages.setdefault(labels.get("actor", ""), {}), labels.get("outcome", ""), value)
    elif "process" in labels:
        reading.fleet.setdefault(labels["process"], {})[name] = value
    elif not labels or name == "folio_db_pool_wait_timeouts_total":
        reading.gauges[name] = reading.gauges.get(name, 0.0) + value


def read(exposition: str, at: float) -> Reading:
    """Parse one exposition (CPU work: call it off the event loop)."""
    reading = Reading(at=at)
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name.startswith("folio_http_"):
                _http(reading, sample.name, sample.labels, sample.value)
            elif sample.name.startswith("folio_"):
                _other(reading, sample.name, sample.labels, sample.value)
    return reading


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The q-quantile (seconds) of cumulative buckets, interpolated within its bucket as Prometheus does."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 0.0)
        lower, below = bound, count
    return lower


def _growth(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    # A restarted process lowers a counter: count what is there now rather than a negative growth.
    return {k: (v - before.get(k, 0.0) if v >= before.get(k, 0.0) else v) for k, v in now.items()}


def _per_s(value: float, seconds: float) -> float:
    return round(value / seconds, 3) if seconds > 0 else 0.0


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def traffic(now: Reading, before: Reading) -> dict[str, object]:
    seconds = now.at - before.at
    grown, errors = _growth(now.requests, before.requests), _growth(now.errors, before.errors)
    buckets = {le: max(v - before.buckets.get(le, 0.0), 0.0) for le, v in now.buckets.items()}
    routes = sorted(now.requests, key=lambda r: (-grown.get(r, 0.0), -now.requests[r]))[:TOP_ROUTES]
    return {
        "rps": _per_s(sum(grown.values()), seconds),
        "errors_per_s": _per_s(sum(errors.values()), seconds),
        "p50_ms": _ms(quantile(0.5, buckets)),
        "p99_ms": _ms(quantile(0.99, buckets)),
        "total": sum(now.requests.values()),
        "slow_total": sum(now.slow.values()),
        "routes": [
            {
                "route": r,
                "rps": _per_s(grown.get(r, 0.0), seconds),
                "errors": now.errors.get(r, 0.0),
                "slow": now.slow.get(r, 0.0),
                "total": now.requests[r],
            }
            for r in routes
        ],
    }


def cache(now: Reading, before: Reading) -> dict[str, object]:
    grown = _growth(now.cache, before.cache)
    lookups, total = sum(grown.values()), sum(now.cache.values())
    return {
        "hit_ratio": round(grown.get("hit", 0.0) / lookups, 4) if lookups else None,
        "hit_ratio_all": round(now.cache.get("hit", 0.0) / total, 4) if total else None,
        "fills": now.cache.get("miss", 0.0),
        "errors": now.cache.get("error", 0.0),
        "lookups": total,
        "breakers": now.breakers,
    }


def database(now: Reading) -> dict[str, object]:
    g = now.gauges
    queries = [
        {"query": name, "mean_ms": round(seconds / count * 1000, 3), "count": count}
        for name, (seconds, count) in now.queries.items()
        if count > 0
    ]
    queries.sort(key=lambda q: -float(q["mean_ms"]))  # type: ignore[arg-type]
    size, idle = g.get("folio_db_pool_size", 0.0), g.get("folio_db_pool_idle", 0.0)
    return {
        "in_use": max(size - idle, 0.0),
        "size": size,
        "max": g.get("folio_db_pool_max", 0.0),
        "waiting": g.get("folio_db_pool_waiting", 0.0),
        "timeouts": g.get("folio_db_pool_wait_timeouts_total", 0.0),
        "slowest": queries[:TOP_QUERIES],
    }


def actors(now: Reading, before: Reading) -> dict[str, dict[str, float]]:
    """Messages each actor finished per second over the interval, by outcome, and in all."""
    seconds, table = now.at - before.at, {}
    for actor, outcomes in now.messages.items():
        grown = _growth(outcomes, before.messages.get(actor, {}))
        table[actor] = {"done_per_s": _per_s(grown.get("done", 0.0), seconds),
                        "failed_per_s": _per_s(grown.get("failed", 0.0), seconds),
                        "done": outcomes.get("done", 0.0), "failed": outcomes.get("failed", 0.0)}  # fmt: skip
    return table


def queue(now: Reading, before: Reading) -> dict[str, object]:
    done = _growth(now.completed, before.completed)
    return {
        "depth": now.gauges.get("folio_report_queue_depth", 0.0),
        "oldest_age_s": now.gauges.get("folio_report_queue_oldest_age_seconds", 0.0),
        "by_status": now.reports,
        "completed_per_s": {k: _per_s(v, now.at - before.at) for k, v in done.items()},
        "completed": now.completed,
    }


def host(now: Reading) -> dict[str, object]:
    fleet: dict[str, dict[str, float]] = defaultdict(dict)
    for process, values in now.fleet.items():
        fleet[process].update(values)
    return {
        "cpu_percent": now.gauges.get("folio_host_cpu_percent"),
        "memory_percent": now.gauges.get("folio_host_memory_percent"),
        "fleet": dict(fleet),
    }


def cost(now: Reading, before: Reading) -> dict[str, object]:
    """The month projected at this moment's fleet and bandwidth, priced as `cli cost` prices a month: instances
    per hour, cache and database per month, bandwidth per GB; against MONTHLY_BUDGET_USD."""
    g, seconds = now.gauges, now.at - before.at
    per_hour = g.get("folio_instance_price_usd_per_hour", 0.0)
    sent = _growth(now.gauges, before.gauges).get("folio_http_response_bytes_total", 0.0)
    gb_per_month = (sent / seconds if seconds > 0 else 0.0) * HOURS_PER_MONTH * 3600 / BYTES_PER_GB
    instances = {p: now.fleet.get(p, {}).get("folio_fleet_instances", 0.0) for p in ("web", "worker")}
    components = {
        "web instances": instances["web"] * per_hour * HOURS_PER_MONTH,
        "worker instances": instances["worker"] * per_hour * HOURS_PER_MONTH,
        "cache and database": g.get("folio_fixed_monthly_cost_usd", 0.0),
        "bandwidth": gb_per_month * g.get("folio_bandwidth_price_usd_per_gb", 0.0),
    }
    total, budget = sum(components.values()), g.get("folio_monthly_budget_usd", 0.0)
    return {
        "projected_usd": round(total, 2),
        "budget_usd": budget,
        "share": round(total / budget, 4) if budget > 0 else None,
        "components": {k: round(v, 2) for k, v in components.items()},
    }
