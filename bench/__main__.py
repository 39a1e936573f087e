"""`python -m bench` (`make bench`): Folio's load figures against its targets, beside two ceilings.

Starts embedded PostgreSQL/Valkey/SMTP for unset URLs under `.data/bench/`, applies the migrations,
loads the demo data once and copies it afresh for each run; then, for each scenario, serves the app
as the Procfile's web line does (one Granian worker pinned to core 0, access log on) and drives it
with wrk pinned to core 1 (one thread, 64 connections): a warm-up run, then the measured run.
`portfolio_ticking` runs while the quote simulator (on core 1 too) moves 10% of the prices every second.
Last on the main server, the market data's size per coding while the quote simulator ticks
(bench/market_data.py). Prints the table, writes `bench/results/latest.json`, and stops everything it started.
"""

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import report
from bench.data import BenchData, prepare
from bench.keys import mint_keys
from bench.market_data import market_data_sizes, quote_simulator, ticking_sizes
from bench.profile import flame_graph
from bench.scenarios import SCENARIO_NAMES, SERVER_ORDER, Scenario, Server, evaluate, select
from bench.servers import (
    CEILING_TARGET,
    RAW_TARGET,
    ROOT,
    CpuShare,
    WebServer,
    pinning_cpus,
    portfolio_body_size,
    unwind_on_signals,
    web_command,
)
from bench.streams import STREAMS, measure_streams
from bench.wrk import WrkMissingError, WrkRun, ensure_wrk, run_wrk, wrk_version
from cli.embedded import EmbeddedServerError
from config.settings import load_settings
from gateway.auth import mint_token

PROCFILE = ROOT / "Procfile"
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
USERS = 10_000
ZIPF_S = 1.1
SEED = 20240101
SIZING_USERS = range(1, 26)  # the ceiling's body is the median of these users' portfolios
# The production configuration; a variable already set in the environment wins (to measure a change).
# AUTO_FX: the trades scenario buys instruments of every currency; the demo users' opening cash is in the base
# currency, so each buy converts its shortfall (an fx entry) rather than being refused.
PRODUCTION = {"ENVIRONMENT": "production", "ACCESS_LOG": "true", "LOG_LEVEL": "INFO", "AUTO_FX": "true"}
# The limiter runs (its cost is measured) with limits a Zipf-heavy user at full load cannot reach.
# The operator's too: the key scenario's keys are created with the operator's token, one request per user.
BENCH_RATE_LIMITS = {
    "RATE_LIMIT_PER_MINUTE": "1000000000",
    "RATE_LIMIT_ANON_PER_MINUTE": "1000000000",
    "RATE_LIMIT_OPERATOR_PER_MINUTE": "1000000000",
}
SERVER_ENV: dict[Server, dict[str, str]] = {
    "main": {},
    "cold": {"PORTFOLIO_CACHE": "false", "PERFORMANCE_CACHE": "false"},
    "ceiling": {},
    "raw": {},
    "ceiling_market_data": {},
    "raw_market_data": {},
}
TARGETS: dict[Server, str] = {
    "ceiling": CEILING_TARGET,
    "raw": RAW_TARGET,
    "ceiling_market_data": CEILING_TARGET,
    "raw_market_data": RAW_TARGET,
}
# Production refuses to start without a signing key: each bench run makes its own unless one is given.
JWT_SECRET = os.environ.get("JWT_SECRET") or secrets.token_urlsafe(48)
API_KEY_SECRET = os.environ.get("API_KEY_SECRET") or secrets.token_urlsafe(48)  # the same for API key digests


def mint_tokens(base_url: str, users: range, path: Path, env: Mapping[str, str]) -> Path | None:
    """The authentication hook: write one `<user_id> <token>` line per user to `path` and return it.

    The Lua scripts then send `Authorization: Bearer <token>` for each request's user (the trades
    scenario posts as the user itself); an `operator <token>` line is there for operator routes.
    Tokens are minted with the servers' own settings (`env`) and one is checked against `base_url`.
    A file given in BENCH_TOKENS is used as is instead.
    """
    settings = load_settings(env)
    ttl = 24 * 3600  # outlives any run, so no token expires mid-measurement
    lines = [f"{user} {mint_token(settings, subject=str(user), scope='user', ttl_s=ttl)}" for user in users]
    lines.append(f"operator {mint_token(settings, subject='bench', scope='operator', ttl_s=ttl)}")
    path.write_text("\n".join(lines) + "\n")
    first = lines[0].split()
    probe = httpx.get(f"{base_url}/api/user/{first[0]}/portfolio", headers={"Authorization": f"Bearer {first[1]}"})
    if probe.status_code != 200:
        raise RuntimeError(f"the server refused a bench token: {probe.status_code} {probe.text[:200]}")
    return path


@dataclass
class Run:
    args: argparse.Namespace
    wrk: str
    data: BenchData
    data_dir: Path
    cpus: tuple[int | None, int | None]
    lua_env: dict[str, str] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    key_file: Path | None = None  # `<user_id> <API key>` lines, for the scenarios that send keys
    servers: list[WebServer] = field(default_factory=list)

    def server_env(self, kind: Server) -> dict[str, str]:
        env = {**self.data.env, **SERVER_ENV[kind]}
        for name, value in {**PRODUCTION, **BENCH_RATE_LIMITS}.items():
            env[name] = os.environ.get(name, value)
        env["JWT_SECRET"] = JWT_SECRET
        env["API_KEY_SECRET"] = API_KEY_SECRET
        return env

    def start(self, kind: Server, body_size: int | None = None) -> WebServer:
        target = TARGETS.get(kind, "gateway.app:create_app")
        env = self.server_env(kind)
        if body_size:
            env["BENCH_BODY_SIZE"] = str(body_size)
        server = WebServer(kind, web_command(PROCFILE, target), env, self.data_dir / f"web-{kind}.log", self.cpus[0])
        self.servers.append(server)
        print(f"--> {kind} server on {server.url} (log {server.log_path})", flush=True)
        server.wait_ready("/api/user/1/portfolio" if kind in TARGETS else "/health/ready")
        return server

    def stop_all(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    def measure(self, scenario: Scenario, server: WebServer) -> None:
        env = self.lua_env
        if scenario.credential == "key":
            env = {**env, "BENCH_TOKENS": str(self.key_file)}

        def drive(seconds: int) -> WrkRun:
            return run_wrk(self.wrk, scenario.script_path, server.url, seconds=seconds,
                           connections=self.args.connections, env=env,
                           log_path=self.data_dir / "wrk.log", cpu=self.cpus[1])  # fmt: skip

        warmup = max(self.args.warmup, scenario.min_warmup)
        graph = self.args.profile / f"{scenario.name}.svg" if self.args.profile else None
        with contextlib.ExitStack() as stack:
            if scenario.ticking:  # on the load's core, every second, from before the warm-up to the end
                log = self.data_dir / f"simulator-{scenario.name}.log"
                stack.enter_context(quote_simulator(self.server_env(scenario.server), log, SEED, 1.0, self.cpus[1]))
            if warmup > 0:
                drive(warmup)
            cpu = stack.enter_context(CpuShare(server.proc.pid, self.data.servers.pids()))
            stack.enter_context(flame_graph(server.proc.pid, self.args.duration, graph, self.cpus[1]))
            result = drive(self.args.duration).summary()
        self.results[scenario.name] = {"what": scenario.what, **result, "cpu": cpu.percentages}
        hits = f"  hit rate {result['hit_rate_pct']}%" if result["hit_rate_pct"] is not None else ""
        print(f"    {scenario.name}: {result['rps']:,.0f} req/s  p50 {result['p50_ms']:.2f} ms"
              f"  p99 {result['p99_ms']:.2f} ms  errors {result['errors']}{hits}"
              f"  CPU % server {cpu.percentages['server_pct']} other {cpu.percentages['other_pct']}",
              flush=True)  # fmt: skip


def _execute(run: Run, scenarios: list[Scenario]) -> None:
    symbols = run.data_dir / "symbols.txt"
    symbols.write_text("\n".join(run.data.symbols) + "\n")
    run.lua_env = {"BENCH_USERS": str(USERS), "BENCH_ZIPF_S": str(ZIPF_S), "BENCH_SEED": str(SEED),
                   "BENCH_SYMBOLS": str(symbols)}  # fmt: skip
    (run.data_dir / "wrk.log").write_text("")
    # The main server always starts first: it sizes the ceiling's body, the market data and the tokens.
    main = run.start("main")
    tokens = os.environ.get("BENCH_TOKENS") or mint_tokens(
        main.url, range(1, USERS + 1), run.data_dir / "tokens", run.server_env("main")
    )
    auth: dict[str, str] = {}
    if tokens:
        run.lua_env["BENCH_TOKENS"] = str(tokens)
        # Sizing reads many users' portfolios: the operator token may, a user's may not.
        lines = [line.split() for line in Path(tokens).read_text().splitlines()]
        chosen = next((line for line in lines if line[:1] == ["operator"]), lines[0] if lines else [])
        auth = {"Authorization": f"Bearer {chosen[1]}"} if len(chosen) == 2 else {}
    if any(s.credential == "key" for s in scenarios):
        print("--> an API key for each user", flush=True)
        operator = auth["Authorization"].removeprefix("Bearer ") if auth else ""
        run.key_file = mint_keys(main.url, range(1, USERS + 1), run.data_dir / "keys", operator)
    body_size = portfolio_body_size(main.port, SIZING_USERS, auth)
    run.extras["portfolio_body_bytes"] = body_size
    run.extras["market_data_sizes"] = market_data_sizes(main.port, auth)
    sizes = {"ceiling_market_data": run.extras["market_data_sizes"].get("gzip", {}).get("bytes")}
    sizes["raw_market_data"] = sizes["ceiling_market_data"]
    for kind in SERVER_ORDER:
        group = [s for s in scenarios if s.server == kind]
        if not group and kind != "main":
            continue
        server = main if kind == "main" else run.start(kind, sizes.get(kind) or body_size)
        for scenario in group:
            print(f"--> {scenario.name}: {scenario.what}", flush=True)
            run.measure(scenario, server)
        if kind == "main":  # last on this server: the simulator's writes would move the scenarios' figures
            print("--> market data sizes while the quote simulator ticks", flush=True)
            log = run.data_dir / "simulator.log"
            run.extras["market_data_ticking"] = ticking_sizes(main.port, auth, run.server_env("main"), log, SEED)
        run.stop_all()
    if run.args.streams and tokens:
        run.extras.update(measure_streams(PROCFILE, run.server_env("main"), Path(tokens), run.data_dir, run.cpus))


def _report(run: Run, elapsed: float, argv: Sequence[str]) -> dict[str, Any]:
    report.add_ceiling_fractions(run.results)
    sizes = run.extras.get("market_data_sizes") or {}
    ticking = run.extras.get("market_data_ticking") or {}
    checked: Mapping[str, Mapping[str, Any]] = {
        **run.results,
        **{name: figures for name, figures in run.extras.items() if name.startswith("streams_")},
        "market_data_sizes": sizes,
        "market_data_ticking": ticking,
    }
    return {
        "date": report.now_iso(),
        "command": " ".join(["python -m bench", *argv]),
        "duration_s": run.args.duration,
        "warmup_s": run.args.warmup,
        "load": {"tool": "wrk", "threads": 1, "connections": run.args.connections, "cpu": run.cpus[1]},
        "server": {"workers": 1, "cpu": run.cpus[0], "env": {k: run.server_env("main")[k] for k in PRODUCTION}},
        "users": USERS,
        "zipf_s": ZIPF_S,
        "machine": report.machine_info(wrk_version(run.wrk)),
        **run.extras,
        "scenarios": run.results,
        "targets": evaluate(checked),
        "notes": run.data.notes,
        "elapsed_s": round(elapsed, 1),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    names = ", ".join((*SCENARIO_NAMES, STREAMS))
    parser.add_argument("--scenario", action="append", default=[], metavar="NAME",
                        help=f"run only these (repeat or comma-separate): {names}")  # fmt: skip
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "10")),
                        help="seconds per measured run (env BENCH_DURATION; default %(default)s)")  # fmt: skip
    parser.add_argument("--warmup", type=int, default=int(os.environ.get("BENCH_WARMUP", "2")),
                        help="seconds of unreported warm-up per scenario (default %(default)s)")  # fmt: skip
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results (default %(default)s)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="also write a py-spy flame graph per scenario: DIR/<scenario>.svg")  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print --output's figures as Markdown and exit")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                        help="print each scenario's AFTER / BEFORE ratios from two results files and exit")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    unwind_on_signals()  # through the finally below, which stops everything started here
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.markdown:
        report.print_report(json.loads(args.output.read_text()), markdown=True)
        return 0
    if args.compare:
        before, after = (json.loads(path.read_text()) for path in args.compare)
        print(report.compare_table(before, after))
        return 0
    try:
        names = [name for names in args.scenario for name in names.split(",") if name]
        args.streams = not names or STREAMS in names  # the live streams' figures (bench/streams.py)
        scenarios = select(n for n in names if n != STREAMS) if names != [STREAMS] else []
        wrk = ensure_wrk()
    except (ValueError, WrkMissingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    data_dir = (ROOT / load_settings().data_dir / "bench").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    run: Run | None = None
    data: BenchData | None = None
    try:
        data = prepare(data_dir, PROCFILE)
        run = Run(args, wrk, data, data_dir, pinning_cpus())
        _execute(run, scenarios)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (EmbeddedServerError, RuntimeError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if run is not None:
            run.stop_all()
        if data is not None:
            print("Stopping embedded servers ...", flush=True)
            data.close()
    assert run is not None  # set, or an early return above
    result = _report(run, time.monotonic() - started, argv)
    report.write_json(result, args.output)
    print()
    report.print_report(result)
    print(f"\n{len(run.results)} scenario(s) in {result['elapsed_s']:.0f} s; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
