"""Capacity through HAProxy: the bench's mixed load (wrk and bench/lua/mix.lua) with one host in rotation, then two.

The users are drawn uniformly (BENCH_ZIPF_S=0), so that no user reaches the per-user rate limit and every
answer counts: 80% portfolio, 10% market data, 5% static data, 5% trades (USD equities, which the users can pay).
"""

import asyncio
import threading
from pathlib import Path

import psycopg

from bench.fleet.figures import Figures
from bench.fleet.fleet import Fleet
from bench.fleet.lb import command, wait_status
from bench.scenarios import LUA_DIR
from bench.wrk import WrkRun, ensure_wrk, run_wrk

USERS = 2000
WARM_UP_S = 3


def lua_env(fleet: Fleet, work_dir: Path) -> dict[str, str]:
    tokens, symbols = work_dir / "tokens.txt", work_dir / "symbols.txt"
    tokens.write_text("".join(f"{user} {fleet.token(user)}\n" for user in range(1, USERS + 1)))
    symbols.write_text("\n".join(fleet.symbols) + "\n")
    return {"BENCH_USERS": str(USERS), "BENCH_ZIPF_S": "0", "BENCH_TOKENS": str(tokens), "BENCH_SYMBOLS": str(symbols)}


def measure(fleet: Fleet, env: dict[str, str], connections: int, seconds: int) -> WrkRun:
    wrk, log = ensure_wrk(), fleet.data_dir / "wrk.log"
    mix = LUA_DIR / "mix.lua"
    run_wrk(wrk, mix, fleet.lb_url, seconds=WARM_UP_S, connections=connections, env=env, log_path=log, cpu=None)
    return run_wrk(wrk, mix, fleet.lb_url, seconds=seconds, connections=connections, env=env, log_path=log, cpu=None)


class ConnectionPeak:
    """The most connections PostgreSQL held for each host while the block ran (pg_stat_activity, every 0.5 s)."""

    QUERY = "SELECT host(client_addr), count(*) FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1"

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-connections", daemon=True)

    def _run(self) -> None:
        names = {self.fleet.net.address(host): host for host in self.fleet.apps}
        # With --pgbouncer the server's clients are PgBouncer's connections, from the db host itself.
        names |= {self.fleet.net.address("db"): "PgBouncer", "127.0.0.1": "PgBouncer"}
        with psycopg.connect(self.fleet.database_url, autocommit=True) as conn:
            while not self._stop.wait(0.5):
                for address, count in conn.execute(self.QUERY).fetchall():
                    host = names.get(str(address))
                    if host is not None:
                        self.peak[host] = max(self.peak.get(host, 0), int(count))

    def __enter__(self) -> "ConnectionPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _line(run: WrkRun) -> str:
    s = run.summary()
    return f"{s['rps']:.0f} req/s, p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, errors {s['errors']}"


async def capacity(fleet: Fleet, connections: int, seconds: int) -> Figures:
    figures = Figures(
        "capacity through HAProxy (wrk, the bench's mix: 80% portfolio, 10% market data, 5% static, 5% trades)"
    )
    env = lua_env(fleet, fleet.data_dir)
    command(fleet.lb_socket, "disable server app/app2")
    try:
        await asyncio.to_thread(wait_status, fleet.lb_socket, "app2", "MAINT")
        one = await asyncio.to_thread(measure, fleet, env, connections, seconds)
    finally:
        command(fleet.lb_socket, "enable server app/app2")
    await asyncio.to_thread(wait_status, fleet.lb_socket, "app2", "UP")
    with ConnectionPeak(fleet) as connections_at_postgres:
        two = await asyncio.to_thread(measure, fleet, env, connections, seconds)
    figures.note(f"1 host (2 web workers), {connections} connections", _line(one))
    figures.note(f"2 hosts, {connections} connections", _line(two))
    figures.note("scaling efficiency (2 hosts / 2 x 1 host)", f"{two.rps / (2 * one.rps) * 100:.0f} %")
    peak = connections_at_postgres.peak
    shown = ", ".join(f"{host}: {n}" for host, n in sorted(peak.items()))
    figures.note(
        "PostgreSQL connections at peak, per host (2 web processes + 1 worker) or from PgBouncer",
        f"{shown}; total {sum(peak.values())}",
    )
    return figures
