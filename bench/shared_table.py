"""The figures of `python -m bench.shared_parts` brought together (how many Folio requests each part carries)
and printed as a table."""

from collections.abc import Mapping
from typing import Any

from bench.shared_figures import carried, messages_per_report

READ = "cache read (hit)"


def _pick(rates: list[Mapping[str, Any]], operation: str, path: str) -> Mapping[str, Any] | None:
    return next((r for r in rates if r["operation"] == operation and r["path"] == path), None)


def _int(value: float | None) -> int | None:
    return round(value) if value is not None else None


def summary(figures: Mapping[str, Any]) -> dict[str, Any]:
    """Per part, the Folio requests per second one server core of it carries at the mix's cost per request."""
    mix = figures["mix"]
    out: dict[str, Any] = {"mix_rps_per_web_process": mix["rps"]}
    rates = figures.get("valkey") or []
    sent = mix["valkey"]["commands_sent_per_request"]
    for path, label in (("product", "one_per_call"), ("pipelined", "pipelined")):
        read = _pick(rates, READ, path)
        limit = read["ops_per_server_core_s"] if read else None
        out[f"valkey_read_ops_per_core_s_{label}"] = limit
        out[f"valkey_carries_rps_{label}"] = _int(carried(limit, sent))
    out["valkey_commands_per_request"] = sent
    out["valkey_carries_rps_at_mix_cpu"] = mix["valkey"]["requests_per_core_s_at_mix"]
    # The least of the three: the CPU a request cost it at the mix counts its fixed work (timers, heartbeats) too.
    valkey = [out[k] for k in ("valkey_carries_rps_one_per_call", "valkey_carries_rps_at_mix_cpu") if out[k]]
    out["valkey_carries_rps"] = min(valkey, default=None)
    miss = (figures.get("postgres") or {}).get("miss_query") or {}
    out["postgres_uncached_reads_per_core_s"] = miss.get("reads_per_server_core_s")
    out["postgres_carries_rps_at_mix_cpu"] = mix["postgres"]["requests_per_core_s_at_mix"]
    broker = figures.get("rabbitmq")
    if broker:
        through = broker["msgs_through_per_server_core_s"]
        out["broker_msgs_per_core_s"] = through
        out["broker_reports_per_s"] = _int(carried(through, messages_per_report(0)))
        out["broker_reports_per_s_one_webhook"] = _int(carried(through, messages_per_report(1)))
    carriers = {
        "Valkey": min(
            (v for v in (out["valkey_carries_rps"], out["valkey_carries_rps_at_mix_cpu"]) if v), default=None
        ),
        "PostgreSQL": out["postgres_carries_rps_at_mix_cpu"],
    }
    known = {name: value for name, value in carriers.items() if value}
    if known:
        first = min(known, key=lambda name: known[name])
        out["first_to_saturate"] = first
        out["web_processes_before_it_saturates"] = round(known[first] / mix["rps"], 1) if mix["rps"] else None
    return out


BUSY_PCT = 25.0  # other processes' CPU during a run, in % of a core, above which the machine was busy


def _n(value: Any, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def _core(run: Mapping[str, Any], key: str) -> str:
    """The per-core figure, starred when it is extrapolated (the load could not fill the server's core)."""
    return _n(run[key]) + ("  " if run["server_saturated"] else " *")


def _busy(result: Mapping[str, Any]) -> list[str]:
    runs = [(f"Valkey {r['operation']} ({r['path']})", r) for r in result.get("valkey") or []]
    broker = result.get("rabbitmq") or {}
    runs += [(f"RabbitMQ {leg['operation']}", leg) for leg in (broker.get("publish"), broker.get("consume")) if leg]
    miss = (result.get("postgres") or {}).get("miss_query")
    runs += [("PostgreSQL miss query", miss)] if miss else []
    return [f"{name} {run['other_cpu_pct']:.0f} %" for name, run in runs if run["other_cpu_pct"] > BUSY_PCT]


def print_table(result: Mapping[str, Any]) -> None:
    mix, s = result["mix"], result["summary"]
    print("Shared parts, one server core each (this machine: 2 cores shared; servers on core 0, the load on core 1)")
    print(f"\nThe mix on one web process: {_n(mix['rps'])} req/s, cache hit rate {_n(mix['hit_rate_pct'], '.1f')} %")
    v, p = mix["valkey"], mix["postgres"]
    print(f"  per request: Valkey {_n(v['commands_sent_per_request'], '.2f')} commands sent"
          f" ({_n(v['commands_executed_per_request'], '.2f')} run, scripts' own included),"
          f" {_n(v['cpu_us_per_request'], '.1f')} us CPU; PostgreSQL {_n(p['statements_per_request'], '.2f')}"
          f" statements, {_n(p['transactions_per_request'], '.2f')} transactions,"
          f" {_n(p['cpu_us_per_request'], '.1f')} us CPU")  # fmt: skip
    print(f"\n{'Valkey operation':<38} {'ops/s':>9} {'Valkey CPU':>11} {'ops per Valkey core-s':>22}")
    for rate in result.get("valkey") or []:
        name = f"{rate['operation']}, {'pipelined' if rate['path'] == 'pipelined' else 'one per call'}"
        print(f"{name:<38} {_n(rate['ops_per_s']):>9} {_n(rate['server_cpu_pct'], '.0f'):>9} % "
              f"{_core(rate, 'ops_per_server_core_s'):>24}")  # fmt: skip
    broker = result.get("rabbitmq")
    if broker:
        print(f"\n{'RabbitMQ':<38} {'msgs/s':>9} {'broker CPU':>11} {'msgs per broker core-s':>22}")
        for leg in (broker["publish"], broker["consume"]):
            print(f"{leg['operation']:<38} {_n(leg['msgs_per_s']):>9} {_n(leg['server_cpu_pct'], '.0f'):>9} % "
                  f"{_core(leg, 'msgs_per_server_core_s'):>24}")  # fmt: skip
    else:
        print(f"\nRabbitMQ skipped: {result.get('rabbitmq_skipped', 'not measured')}")
    miss = (result.get("postgres") or {}).get("miss_query")
    if miss:
        print(f"\n{'PostgreSQL':<38} {'reads/s':>9} {'its CPU':>11} {'reads per core-s':>22}")
        print(f"{'portfolio miss query (pgbench)':<38} {_n(miss['reads_per_s']):>9} "
              f"{_n(miss['server_cpu_pct'], '.0f'):>9} % {_core(miss, 'reads_per_server_core_s'):>24}")  # fmt: skip
    print("\n* the one-core load could not fill the server's core: its rate / the share of the core it used")
    if busy := _busy(result):
        print(f"Other processes used the machine (% of a core) during: {'; '.join(busy)}")
    print("\nWhat one core of each carries:")
    print(f"  Valkey      ~{_n(s['valkey_carries_rps'])} Folio req/s of the mix (the CPU a request cost it:"
          f" ~{_n(s['valkey_carries_rps_at_mix_cpu'])}; its reads one per call"
          f" / {_n(s['valkey_commands_per_request'], '.2f')} commands per request:"
          f" ~{_n(s['valkey_carries_rps_one_per_call'])}; pipelined:"
          f" ~{_n(s['valkey_carries_rps_pipelined'])})")  # fmt: skip
    print(f"  PostgreSQL  ~{_n(s['postgres_uncached_reads_per_core_s'])} uncached portfolio reads/s;"
          f" ~{_n(s['postgres_carries_rps_at_mix_cpu'])} Folio req/s of the mix")  # fmt: skip
    if "broker_msgs_per_core_s" in s:
        print(f"  RabbitMQ    ~{_n(s['broker_msgs_per_core_s'])} msgs/s in and out:"
              f" ~{_n(s['broker_reports_per_s'])} reports/s"
              f" (~{_n(s['broker_reports_per_s_one_webhook'])} with one webhook endpoint per user)")  # fmt: skip
    if "first_to_saturate" in s:
        print(f"  First to saturate at the mix: {s['first_to_saturate']}, at about"
              f" {_n(s['web_processes_before_it_saturates'], '.1f')} web processes' worth of load")  # fmt: skip
