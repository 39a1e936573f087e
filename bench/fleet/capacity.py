"""Capacity through HAProxy: the bench's mixed load (wrk and bench/lua/mix.lua) with one host in rotation, then two.

The users are drawn uniformly (BENCH_ZIPF_S=0), so that no user reaches the per-user rate limit and every
answer counts: 80% portfolio, 10% market data, 5% static data, 5% trades (USD equities, which the users can pay).
"""

import asyncio
from pathlib import Path

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
    two = await asyncio.to_thread(measure, fleet, env, connections, seconds)
    figures.note(f"1 host (2 web workers), {connections} connections", _line(one))
    figures.note(f"2 hosts, {connections} connections", _line(two))
    figures.note("scaling efficiency (2 hosts / 2 x 1 host)", f"{two.rps / (2 * one.rps) * 100:.0f} %")
    return figures
