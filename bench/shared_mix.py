"""What one request of the bench's mix costs the shared parts: Valkey commands and CPU, PostgreSQL statements,
transactions and CPU, counted around a wrk run of bench/lua/mix.lua against the Procfile's web line.

`INFO commandstats` counts the commands a script runs as well as the script's own call, so the commands the
processes send (one round trip each) are counted apart, with MONITOR, over a second, shorter run.
"""

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import psutil
import valkey
import valkey.asyncio as avalkey

from bench.shared_figures import command_calls, cpu_carried, delta, per_request
from bench.shared_postgres import Counters, counters
from bench.shared_valkey import tree_cpu_s
from bench.wrk import WrkRun

# The bench's own commands, not the product's.
OWN_COMMANDS = ("info", "monitor", "client|setinfo", "ping", "config|get")

Drive = Callable[[int], WrkRun]  # a wrk run of the mix for N seconds


@dataclass(frozen=True)
class Servers:
    valkey_url: str
    valkey_pid: int
    database_url: str
    postgres_pid: int
    statements: bool  # pg_stat_statements is there


def _cpu_s(pid: int) -> float:
    return tree_cpu_s(psutil.Process(pid))


def _snapshot(servers: Servers) -> tuple[dict[str, int], float, Counters, float]:
    with valkey.Valkey.from_url(servers.valkey_url) as client:
        calls = command_calls(cast(Mapping[str, Mapping[str, int]], client.info("commandstats")))
    pg = counters(servers.database_url, servers.statements)
    return calls, _cpu_s(servers.valkey_pid), pg, _cpu_s(servers.postgres_pid)


def costs(drive: Drive, servers: Servers, seconds: int, monitor_s: int) -> dict[str, Any]:
    """Per request of the mix: what Valkey and PostgreSQL did, from counters around one measured run."""
    calls0, valkey0, pg0, postgres0 = _snapshot(servers)
    run = drive(seconds)
    calls1, valkey1, pg1, postgres1 = _snapshot(servers)
    requests = run.requests
    executed = {k: v for k, v in delta(calls0, calls1).items() if k not in OWN_COMMANDS}
    pg = pg1.minus(pg0)
    sent, sampled = asyncio.run(_count_sent(servers.valkey_url, lambda: drive(monitor_s)))
    top_level = dict(sent)
    summary = run.summary()
    return {
        "requests": requests,
        "rps": summary["rps"],
        "errors": summary["errors"],
        "hit_rate_pct": summary["hit_rate_pct"],
        "portfolio_misses_per_request": per_request(run.counters.get("misses", 0), requests),
        "valkey": {
            "commands_executed_per_request": per_request(sum(executed.values()), requests),
            "commands_executed": executed,
            "commands_sent_per_request": per_request(sum(top_level.values()), sampled.requests),
            "commands_sent_sample": {"requests": sampled.requests, "commands": top_level},
            "cpu_s": round(valkey1 - valkey0, 3),
            "cpu_us_per_request": _us(valkey1 - valkey0, requests),
            "requests_per_core_s_at_mix": _round(cpu_carried(valkey1 - valkey0, requests)),
        },
        "postgres": {
            "statements_per_request": per_request(pg.statements, requests) if pg.statements is not None else None,
            "transactions_per_request": per_request(pg.transactions, requests),
            "rows_read_per_request": per_request(pg.rows_read, requests),
            "rows_written_per_request": per_request(pg.rows_written, requests),
            "cpu_s": round(postgres1 - postgres0, 3),
            "cpu_us_per_request": _us(postgres1 - postgres0, requests),
            "requests_per_core_s_at_mix": _round(cpu_carried(postgres1 - postgres0, requests)),
        },
    }


def _us(cpu_s: float, requests: int) -> float | None:
    return round(cpu_s / requests * 1e6, 1) if requests else None


def _round(value: float | None) -> int | None:
    return round(value) if value is not None else None


async def _count_sent(url: str, work: Callable[[], WrkRun]) -> tuple[Counter[str], WrkRun]:
    """`work` in a thread, and by name the commands clients sent (not those scripts ran) meanwhile (MONITOR)."""
    sent: Counter[str] = Counter()
    client = avalkey.Valkey.from_url(url)
    try:
        async with client.monitor() as monitor:
            job = asyncio.ensure_future(asyncio.to_thread(work))
            while not job.done():
                reading = asyncio.ensure_future(monitor.next_command())
                await asyncio.wait({reading, job}, return_when=asyncio.FIRST_COMPLETED)
                if not reading.done():  # the work ended: the reply being read is not wanted
                    reading.cancel()
                    break
                seen = reading.result()
                name = seen["command"].split(" ", 1)[0].lower()
                if seen["client_type"] != "lua" and name not in OWN_COMMANDS:
                    sent[name] += 1
            return sent, await job
    finally:
        await client.aclose()
