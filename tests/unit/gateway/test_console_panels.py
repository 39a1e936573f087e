"""The console's numbers from a Prometheus exposition: rates between two readings and histogram quantiles."""

from gateway.console import panels

BEFORE = """
# TYPE folio_http_requests counter
folio_http_requests_total{route="/api/x",method="GET",status="200"} 10
folio_http_requests_total{route="/api/x",method="GET",status="503"} 1
# TYPE folio_http_request_duration_seconds histogram
folio_http_request_duration_seconds_bucket{route="/api/x",method="GET",status="200",le="0.01"} 5
folio_http_request_duration_seconds_bucket{route="/api/x",method="GET",status="200",le="0.1"} 10
folio_http_request_duration_seconds_bucket{route="/api/x",method="GET",status="200",le="+Inf"} 11
folio_http_request_duration_seconds_count{route="/api/x",method="GET",status="200"} 11
folio_http_request_duration_seconds_sum{route="/api/x",method="GET",status="200"} 0.5
# TYPE folio_cache_requests counter
folio_cache_requests_total{cache="holdings",result="hit"} 8
folio_cache_requests_total{cache="holdings",result="miss"} 2
# TYPE folio_db_pool_size gauge
folio_db_pool_size 4
# TYPE folio_db_pool_idle gauge
folio_db_pool_idle 3
"""
AFTER = (
    BEFORE.replace('status="200"} 10\n', 'status="200"} 30\n')
    .replace('le="0.01"} 5', 'le="0.01"} 5')
    .replace('le="0.1"} 10', 'le="0.1"} 30')
    .replace('le="+Inf"} 11', 'le="+Inf"} 31')
    .replace('result="hit"} 8', 'result="hit"} 26')
)


def test_two_readings_give_rates_quantiles_and_the_hit_ratio_over_the_interval():
    before, after = panels.read(BEFORE, 100.0), panels.read(AFTER, 110.0)
    traffic = panels.traffic(after, before)
    assert traffic["rps"] == 2.0  # 20 more requests in 10 s
    assert traffic["errors_per_s"] == 0.0
    assert traffic["total"] == 31.0
    # The 20 new requests all fell between 10 ms and 100 ms: the median is inside that bucket.
    assert 10.0 < traffic["p50_ms"] < 100.0
    cache = panels.cache(after, before)
    assert cache["hit_ratio"] == 1.0  # 18 hits, no miss, in the interval
    assert cache["hit_ratio_all"] == round(26 / 28, 4)
    assert panels.database(after)["in_use"] == 1.0


def test_a_quantile_is_none_without_observations_and_interpolates_within_its_bucket():
    assert panels.quantile(0.5, {}) is None
    assert panels.quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    assert panels.quantile(0.5, {0.1: 10.0, 0.2: 20.0, float("inf"): 20.0}) == 0.1
    assert abs(panels.quantile(0.75, {0.1: 10.0, 0.2: 20.0, float("inf"): 20.0}) - 0.15) < 1e-9


PRICES = """
# TYPE folio_instance_price_usd_per_hour gauge
folio_instance_price_usd_per_hour 0.1
# TYPE folio_bandwidth_price_usd_per_gb gauge
folio_bandwidth_price_usd_per_gb 0.09
# TYPE folio_fixed_monthly_cost_usd gauge
folio_fixed_monthly_cost_usd 300
# TYPE folio_monthly_budget_usd gauge
folio_monthly_budget_usd 1000
# TYPE folio_fleet_instances gauge
folio_fleet_instances{process="web"} 2
folio_fleet_instances{process="worker"} 1
# TYPE folio_http_response_bytes counter
folio_http_response_bytes_total{route="/api/x",encoding="gzip"} %d
"""


def test_the_projected_month_prices_the_fleet_now_and_the_bandwidth_rate():
    before, after = panels.read(PRICES % 0, 0.0), panels.read(PRICES % 10_000_000, 10.0)  # 1 MB/s
    cost = panels.cost(after, before)
    parts = cost["components"]
    assert parts["web instances"] == 2 * 0.1 * 730
    assert parts["worker instances"] == 0.1 * 730
    assert parts["cache and database"] == 300
    assert parts["bandwidth"] == round(1e6 * 730 * 3600 / 1e9 * 0.09, 2)
    assert cost["projected_usd"] == round(sum(parts.values()), 2)
    assert cost["share"] == round(cost["projected_usd"] / 1000, 4)
