"""The arithmetic of `python -m bench.shared_parts`: from counters and CPU shares to what one part carries."""

import pytest

from bench.shared_figures import (
    both_ways,
    carried,
    command_calls,
    cpu_carried,
    delta,
    messages_per_report,
    per_core,
    pgbench_script,
    pgbench_tps,
    saturated,
)
from bench.shared_table import summary


def test_a_server_short_of_its_core_is_credited_with_what_a_full_core_would_do():
    assert per_core(20_000, 25.0) == 80_000
    assert per_core(90_000, 100.0) == 90_000
    assert per_core(90_000, 104.0) == 90_000  # a sampling overshoot is not more than one core
    assert per_core(1_000, 0.0) is None
    assert saturated(95.0)
    assert not saturated(60.0)


def test_what_a_part_carries_is_its_limit_over_the_cost_of_one_request():
    assert carried(100_000, 2.5) == 40_000
    assert carried(None, 2.5) is None
    assert carried(100_000, 0.0) is None
    assert cpu_carried(0.5, 10_000) == 20_000  # 50 us of the server's CPU per request
    assert cpu_carried(0.0, 10_000) is None


def test_a_broker_core_that_takes_in_and_hands_out_each_message_passes_the_harmonic_rate():
    assert both_ways(20_000, 20_000) == pytest.approx(10_000)
    assert both_ways(30_000, 60_000) == pytest.approx(20_000)
    assert both_ways(None, 60_000) is None


def test_a_report_is_one_message_and_one_more_per_webhook_endpoint_and_two_per_retry():
    assert messages_per_report(0) == 1
    assert messages_per_report(1) == 2
    assert messages_per_report(2, attempts=3) == 7


def test_commandstats_deltas_keep_the_commands_that_moved_and_count_new_ones_from_zero():
    before = command_calls({"cmdstat_evalsha": {"calls": 10, "usec": 5}, "cmdstat_get": {"calls": 3, "usec": 1}})
    after = command_calls({"cmdstat_evalsha": {"calls": 25, "usec": 9}, "cmdstat_get": {"calls": 3, "usec": 1},
                           "cmdstat_client|setinfo": {"calls": 2, "usec": 1}})  # fmt: skip
    assert delta(before, after) == {"evalsha": 15, "client|setinfo": 2}


def test_pgbench_runs_the_captured_statement_on_its_variable_and_its_rate_is_read_back():
    statement = "SELECT 1 AS part FROM users u\n  WHERE u.id = $1\nUNION ALL SELECT 2 FROM cash b WHERE b.user_id = $2"
    assert pgbench_script(statement) == (
        "SELECT 1 AS part FROM users u WHERE u.id = :uid UNION ALL SELECT 2 FROM cash b WHERE b.user_id = :uid;"
    )
    output = "latency average = 1.2 ms\ntps = 12345.678901 (without initial connection time)\n"
    assert pgbench_tps(output) == pytest.approx(12345.678901)
    assert pgbench_tps("connection to server failed") is None


def _figures(valkey_cpu_rps: int, postgres_cpu_rps: int) -> dict[str, object]:
    return {
        "mix": {
            "rps": 1_500.0,
            "valkey": {"commands_sent_per_request": 0.5, "requests_per_core_s_at_mix": valkey_cpu_rps},
            "postgres": {"requests_per_core_s_at_mix": postgres_cpu_rps},
        },
        "valkey": [
            {"operation": "cache read (hit)", "path": "product", "ops_per_server_core_s": 60_000},
            {"operation": "cache read (hit)", "path": "pipelined", "ops_per_server_core_s": 100_000},
        ],
        "postgres": {"miss_query": {"reads_per_server_core_s": 9_000}},
        "rabbitmq": {"msgs_through_per_server_core_s": 8_000},
    }


def test_the_summary_names_the_part_that_carries_the_fewest_requests_of_the_mix():
    s = summary(_figures(valkey_cpu_rps=150_000, postgres_cpu_rps=30_000))
    assert s["valkey_carries_rps_pipelined"] == 200_000  # the pipelined limit over half a command per request
    assert s["valkey_carries_rps"] == 120_000  # the least: its reads one per call over half a command per request
    assert s["broker_reports_per_s"] == 8_000
    assert s["broker_reports_per_s_one_webhook"] == 4_000
    assert s["first_to_saturate"] == "PostgreSQL"
    assert s["web_processes_before_it_saturates"] == 20.0
    assert summary(_figures(valkey_cpu_rps=12_000, postgres_cpu_rps=30_000))["first_to_saturate"] == "Valkey"
