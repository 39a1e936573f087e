"""Folio's metric families: names, labels, buckets and multiprocess modes, in one place.

The names are a contract with the alert and recording rules under `deploy/prometheus/` and with
external scalers. Every gauge says how the processes' values merge: `livesum` for what adds up
across processes (pool connections), `livemax` for the worst of them (a breaker), and
`livemostrecent` for one value every process sees alike (host load, report counts, prices,
the fleet view). `live*` gauges leave the merge with their process.
"""

from typing import Literal

from prometheus_client import Counter, Gauge, Histogram

# Request durations: 1 ms to 10 s. Queries: 0.5 ms to 5 s. Report attempts: 0.5 s to 5 min.
DURATION_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUERY_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REPORT_BOUNDS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}

HTTP = ["route", "method", "status"]
Mode = Literal["livesum", "livemax", "livemostrecent"]


def _gauge(name: str, documentation: str, mode: Mode, labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, documentation, labels, registry=None, multiprocess_mode=mode)


class Families:
    """Every metric, created once per process (values live in the multiprocess folder, not here)."""

    def __init__(self) -> None:
        # HTTP: every request, either lane; route is the template, never the raw path.
        self.requests = Counter("folio_http_requests", "HTTP requests answered.", HTTP, registry=None)
        self.request_duration = Histogram(
            "folio_http_request_duration_seconds", "Time to answer, body included.", HTTP,
            buckets=DURATION_BOUNDS, registry=None,
        )  # fmt: skip
        self.response_bytes = Counter(
            "folio_http_response_bytes", "Body bytes sent, as encoded on the wire.", ["route", "encoding"],
            registry=None,
        )  # fmt: skip
        self.slow_requests = Counter(
            "folio_http_slow_requests", "Requests slower than SLOW_REQUEST_MS.", ["route"], registry=None
        )
        # Cache, database, Valkey.
        self.cache_requests = Counter(
            "folio_cache_requests", "Cache lookups that ended a read, by result (hit, miss, error).",
            ["cache", "result"], registry=None,
        )  # fmt: skip
        self.query_duration = Histogram(
            "folio_db_query_duration_seconds", "SQL statement time, by statement name.", ["query"],
            buckets=QUERY_BOUNDS, registry=None,
        )  # fmt: skip
        self.pool_size = _gauge("folio_db_pool_size", "Open database connections.", "livesum")
        self.pool_idle = _gauge("folio_db_pool_idle", "Connections idle in the pool.", "livesum")
        self.pool_waiting = _gauge("folio_db_pool_waiting", "Requests waiting for a connection.", "livesum")
        self.pool_max = _gauge("folio_db_pool_max", "The pools' maximum size.", "livesum")
        self.pool_timeouts = Counter(
            "folio_db_pool_wait_timeouts", "Connection requests that timed out or found the queue full.",
            registry=None,
        )  # fmt: skip
        self.valkey_errors = Counter(
            "folio_valkey_errors", "Failed Valkey commands, by operation.", ["operation"], registry=None
        )
        self.breaker_state = _gauge(
            "folio_circuit_breaker_state", "0 closed, 1 half-open, 2 open (worst process).", "livemax", ("breaker",)
        )
        self._reports()
        self._host_and_costs()
        self._fleet()

    def _reports(self) -> None:
        self.reports = _gauge("folio_reports", "Report rows per status.", "livemostrecent", ("status",))
        self.reports_completed = Counter(
            "folio_reports_completed", "Reports finished, by final status.", ["status"], registry=None
        )
        self.worker_messages = Counter(
            "folio_worker_messages", "Messages the workers finished, by actor and outcome.", ["actor", "outcome"],
            registry=None,
        )  # fmt: skip
        self.queue_depth = _gauge("folio_report_queue_depth", "Messages waiting for a worker.", "livemostrecent")
        self.queue_oldest_age = _gauge(
            "folio_report_queue_oldest_age_seconds", "How long the oldest waiting message has waited.",
            "livemostrecent",
        )  # fmt: skip
        self.report_duration = Histogram(
            "folio_report_duration_seconds", "Time of one report attempt, from its claim to its end.",
            buckets=REPORT_BOUNDS, registry=None,
        )  # fmt: skip

    def _host_and_costs(self) -> None:
        self.host_cpu = _gauge("folio_host_cpu_percent", "Host CPU utilisation, 0-100.", "livemostrecent")
        self.host_memory = _gauge("folio_host_memory_percent", "Host memory utilisation, 0-100.", "livemostrecent")
        self.instance_price = _gauge(
            "folio_instance_price_usd_per_hour", "Price of one instance (INSTANCE_PRICE_PER_HOUR).", "livemostrecent"
        )
        self.bandwidth_price = _gauge(
            "folio_bandwidth_price_usd_per_gb", "Price of a GB sent (BANDWIDTH_PRICE_PER_GB).", "livemostrecent"
        )
        self.fixed_cost = _gauge(
            "folio_fixed_monthly_cost_usd", "Cache and database, per month (CACHE_ + DATABASE_PRICE_PER_MONTH).",
            "livemostrecent",
        )  # fmt: skip
        self.budget = _gauge("folio_monthly_budget_usd", "The monthly budget (MONTHLY_BUDGET_USD).", "livemostrecent")

    def _fleet(self) -> None:
        labels = ("process",)
        self.fleet_instances = _gauge("folio_fleet_instances", "Live instances.", "livemostrecent", labels)
        self.desired_instances = _gauge(
            "folio_desired_instances", "Instances the scaling policy wants.", "livemostrecent", labels
        )
        self.fleet_cpu = _gauge("folio_fleet_cpu_percent", "Mean CPU of the fleet, 0-100.", "livemostrecent", labels)
        self.fleet_memory = _gauge(
            "folio_fleet_memory_percent", "Mean memory of the fleet, 0-100.", "livemostrecent", labels
        )
        self.min_instances = _gauge("folio_min_instances", "Autoscaling lower bound.", "livemostrecent", labels)
        self.max_instances = _gauge("folio_max_instances", "Autoscaling upper bound.", "livemostrecent", labels)
