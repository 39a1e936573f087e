"""The arithmetic of `python -m bench.shared_parts`: from counters and CPU shares to "one X carries N req/s".

A server that the one-core load could not drive to a full core is credited with what one core of it would do at
the efficiency measured (its rate ÷ the share of a core it used): an estimate, starred in the table. On this shared
machine one from a run at 72 % of the core came out half again above what a run at 98 % measured.
"""

import re
from collections.abc import Mapping

SATURATED_PCT = 90.0  # a server at or above this share of its one core is the bottleneck of the run


def saturated(server_cpu_pct: float) -> bool:
    return server_cpu_pct >= SATURATED_PCT


def per_core(rate: float, server_cpu_pct: float) -> float | None:
    """Operations per second of one full server core: `rate` ÷ the core's share it took (None if it took none)."""
    if server_cpu_pct <= 0:
        return None
    return rate / min(server_cpu_pct / 100, 1.0)


def per_request(count: float, requests: int) -> float | None:
    return count / requests if requests > 0 else None


def carried(limit_per_s: float | None, cost_per_request: float | None) -> float | None:
    """Requests per second a part with `limit_per_s` carries when each request costs it `cost_per_request`."""
    if limit_per_s is None or not cost_per_request:
        return None
    return limit_per_s / cost_per_request


def cpu_carried(cpu_seconds: float, requests: int) -> float | None:
    """Requests per second one core carries when `requests` took `cpu_seconds` of the server's CPU."""
    if requests <= 0 or cpu_seconds <= 0:
        return None
    return requests / cpu_seconds


def both_ways(publish_per_s: float | None, consume_per_s: float | None) -> float | None:
    """Messages per second through one broker core that both takes each message in and hands it out."""
    if not publish_per_s or not consume_per_s:
        return None
    return 1 / (1 / publish_per_s + 1 / consume_per_s)


def messages_per_report(webhook_endpoints: int, attempts: int = 1) -> int:
    """Broker messages one report makes: its enqueue, then one delivery message per endpoint subscribed to the
    report's event; a retried attempt adds two (Dramatiq's delay queue, then back to the queue)."""
    return 1 + 2 * max(attempts - 1, 0) + webhook_endpoints


def command_calls(stats: Mapping[str, Mapping[str, int | float]]) -> dict[str, int]:
    """`INFO commandstats` as {command: calls} (`cmdstat_client|setinfo` -> `client|setinfo`)."""
    return {name.removeprefix("cmdstat_"): int(figures["calls"]) for name, figures in stats.items()}


def delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """What each counter grew by (a counter new in `after` counts from 0); counters that did not move are left out."""
    grown = {name: value - before.get(name, 0) for name, value in after.items()}
    return {name: change for name, change in grown.items() if change}


_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)


def pgbench_tps(output: str) -> float | None:
    """The transactions per second pgbench printed (its figure without connection set-up)."""
    found = _TPS.search(output)
    return float(found.group(1)) if found else None


def pgbench_script(statement: str, variable: str = "uid") -> str:
    """A pg_stat_statements text (`$1`, `$2` placeholders) as a pgbench statement on one `:variable`."""
    return re.sub(r"\$\d+", f":{variable}", " ".join(statement.split())) + ";"
