"""`python -m bench.shared_parts` (`make capacity`): the limit of each part every Folio host shares (Valkey,
RabbitMQ, PostgreSQL) on one core, and what one request of the bench's mix costs each, so how many Folio
requests per second one of each carries.

Starts PostgreSQL and Valkey under `.data/shared_parts/` with the demo data (as `make bench` does), then:
1. the mix (bench/lua/mix.lua) against the Procfile's web line (one Granian worker on core 0, wrk on core 1):
   Valkey commands and CPU, PostgreSQL statements and CPU per request;
2. Valkey pinned to core 0, the product's cache read, rate-limit sync and invalidation publish through the
   product's client from this process on core 1, one command per call and then pipelined;
3. PostgreSQL pinned to core 0, the portfolio miss's holdings query from pgbench on core 1;
4. RabbitMQ (Debian's rabbitmq-server; skipped with the reason where it cannot run) pinned to core 0: report
   enqueues through the product's publisher, then consume and ack.
Prints a table, writes `bench/results/shared_parts.json`, and stops everything it started.
"""

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import valkey.asyncio as avalkey

from bench import report
from bench.__main__ import API_KEY_SECRET, BENCH_RATE_LIMITS, JWT_SECRET, PRODUCTION, SEED, USERS, ZIPF_S, mint_tokens
from bench.data import BenchData, prepare
from bench.scenarios import LUA_DIR
from bench.servers import APP_TARGET, ROOT, WebServer, pinning_cpus, unwind_on_signals, web_command
from bench.shared_broker import broker_pid, measure_broker, pin_tree, start_broker
from bench.shared_mix import Servers, costs
from bench.shared_postgres import enable_statements, miss_rate, miss_statement, pgbench_binary
from bench.shared_table import print_table, summary
from bench.shared_valkey import CONCURRENCY, PIPELINES, measure_valkey, on_core
from bench.wrk import WrkMissingError, WrkRun, ensure_wrk, run_wrk, wrk_version
from cli.embedded import EmbeddedServerError
from config.settings import load_settings
from config.wiring.resources import open_resources
from config.wiring.shared_parts import shared_parts

PROCFILE = ROOT / "Procfile"
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "shared_parts.json"
CONNECTIONS = 64  # wrk's, as `make bench`
MONITOR_S = 3  # the run whose commands MONITOR counts (it slows the server; only the counts are kept)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.shared_parts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds per measured run (default %(default)s)")
    parser.add_argument(
        "--warmup", type=int, default=15, help="seconds of the mix before measuring (default %(default)s)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"JSON results (default {DEFAULT_OUTPUT.relative_to(ROOT)})")  # fmt: skip
    parser.add_argument("--no-broker", action="store_true", help="skip RabbitMQ")
    return parser


def mix_phase(data: BenchData, wrk: str, args: argparse.Namespace, cpus: tuple[int | None, int | None],
              data_dir: Path, servers: Servers) -> dict[str, Any]:  # fmt: skip
    # The bench's production configuration; a variable set in the environment wins, as in `make bench`.
    production = {name: os.environ.get(name, value) for name, value in {**PRODUCTION, **BENCH_RATE_LIMITS}.items()}
    env = {**data.env, **production, "JWT_SECRET": JWT_SECRET, "API_KEY_SECRET": API_KEY_SECRET}
    server = WebServer("main", web_command(PROCFILE, APP_TARGET), env, data_dir / "web.log", cpus[0])
    try:
        print(f"--> the mix on {server.url} (log {server.log_path})", flush=True)
        server.wait_ready("/health/ready")
        tokens = mint_tokens(server.url, range(1, USERS + 1), data_dir / "tokens", env)
        symbols = data_dir / "symbols.txt"
        symbols.write_text("\n".join(data.symbols) + "\n")
        lua_env = {"BENCH_USERS": str(USERS), "BENCH_ZIPF_S": str(ZIPF_S), "BENCH_SEED": str(SEED),
                   "BENCH_SYMBOLS": str(symbols), "BENCH_TOKENS": str(tokens)}  # fmt: skip

        def drive(seconds: int) -> WrkRun:
            return run_wrk(wrk, LUA_DIR / "mix.lua", server.url, seconds=seconds, connections=CONNECTIONS,
                           env=lua_env, log_path=data_dir / "wrk.log", cpu=cpus[1])  # fmt: skip

        drive(args.warmup)
        figures = costs(drive, servers, args.seconds, MONITOR_S)
        for _ in range(3):  # a pool connection whose last query was a miss's shows it; else a little more load
            figures["miss_statement"] = miss_statement(servers.database_url)
            if figures["miss_statement"]:
                break
            drive(1)
    finally:
        server.stop()
    print(f"    {figures['rps']:,.0f} req/s; per request: Valkey {figures['valkey']['commands_sent_per_request']:.2f}"
          f" commands sent, PostgreSQL {figures['postgres']['transactions_per_request']:.2f} transactions",
          flush=True)  # fmt: skip
    return figures


async def _online_parts(data: BenchData, servers: Servers, broker_url: str | None, args: argparse.Namespace,
                        cpus: tuple[int | None, int | None], rabbit_pid: int | None) -> dict[str, Any]:  # fmt: skip
    # A connection for each call in flight; a command timeout long enough that a busy machine does not open the
    # circuit (an open circuit answers without Valkey, which would count as throughput).
    env = {**data.env, "METRICS": "false", "REDIS_MAX_CONNECTIONS": str(CONCURRENCY + PIPELINES + 2),
           "CACHE_TIMEOUT_MS": "1000"}  # fmt: skip
    if broker_url:
        env["BROKER_URL"] = broker_url
    settings = load_settings(env)
    out: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        resources = await open_resources(settings, "bench", stack)
        parts = shared_parts(resources)
        client = resources.valkey
        if not isinstance(client, avalkey.Valkey):
            raise RuntimeError("the Valkey part measures one node, not a cluster")
        async with on_core(cpus[1]):
            print("--> Valkey on core 0, the product's client on core 1", flush=True)
            pin_tree(servers.valkey_pid, cpus[0])
            rates = await measure_valkey(
                parts, client, servers.valkey_url, servers.valkey_pid, args.seconds, range(1, USERS + 1)
            )
            out["valkey"] = [rate.figures() for rate in rates]
            if broker_url and rabbit_pid is not None:
                print("--> RabbitMQ on core 0, the product's publisher on core 1", flush=True)
                pin_tree(rabbit_pid, cpus[0])
                out["rabbitmq"] = await measure_broker(parts, broker_url, args.seconds, rabbit_pid)
    return out


def postgres_phase(servers: Servers, mix: dict[str, Any], args: argparse.Namespace,
                   cpus: tuple[int | None, int | None], data_dir: Path) -> dict[str, Any]:  # fmt: skip
    pgbench = pgbench_binary()
    statement = mix.get("miss_statement")
    if pgbench is None or statement is None:
        why = "no pgbench" if pgbench is None else "no web connection's last query was the holdings query"
        print(f"--> PostgreSQL's miss rate skipped: {why}", flush=True)
        return {"skipped": why}
    print("--> PostgreSQL on core 0, the portfolio miss's query from pgbench on core 1", flush=True)
    pin_tree(servers.postgres_pid, cpus[0])
    figures = miss_rate(pgbench, servers.database_url, statement, users=USERS, seconds=args.seconds,
                        server_pid=servers.postgres_pid, load_cpu=cpus[1], work_dir=data_dir)  # fmt: skip
    print(f"    {figures['reads_per_s']:,} reads/s at {figures['server_cpu_pct']:.0f} % of its core", flush=True)
    return {"miss_query": figures, "statement": " ".join(statement.split())}


def run(args: argparse.Namespace, wrk: str, data_dir: Path) -> dict[str, Any]:
    cpus = pinning_cpus()
    data = prepare(data_dir, PROCFILE)
    with contextlib.ExitStack() as stack:
        stack.callback(data.close)
        embedded = data.servers
        if embedded.postgres is None or embedded.valkey is None or not embedded.postgres.pid or not embedded.valkey.pid:
            raise RuntimeError("this bench pins the servers it starts: leave DATABASE_URL and VALKEY_URL unset")
        url = data.env["DATABASE_URL"]
        servers = Servers(embedded.valkey.url, embedded.valkey.pid, url, embedded.postgres.pid, enable_statements(url))
        figures: dict[str, Any] = {"mix": mix_phase(data, wrk, args, cpus, data_dir, servers)}
        broker_url, rabbit_pid = None, None
        if args.no_broker:
            figures["rabbitmq_skipped"] = "--no-broker"
        else:
            print("--> starting RabbitMQ (Debian's rabbitmq-server) ...", flush=True)
            broker = start_broker(data_dir / "rabbitmq")
            if isinstance(broker, str):
                print(f"    RabbitMQ skipped: {broker}", flush=True)
                figures["rabbitmq_skipped"] = broker
            else:
                stack.callback(broker.close)
                broker_url, rabbit_pid = broker.url, broker_pid(broker)
        figures |= asyncio.run(_online_parts(data, servers, broker_url, args, cpus, rabbit_pid))
        figures["postgres"] = postgres_phase(servers, figures["mix"], args, cpus, data_dir)
    return figures


def main(argv: list[str] | None = None) -> int:
    unwind_on_signals()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        wrk = ensure_wrk()
    except WrkMissingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    data_dir = (ROOT / load_settings().data_dir / "shared_parts").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        figures = run(args, wrk, data_dir)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (EmbeddedServerError, RuntimeError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    result = {
        "date": report.now_iso(),
        "command": " ".join(["python -m bench.shared_parts", *argv]),
        "seconds": args.seconds,
        "machine": report.machine_info(wrk_version(wrk)),
        **figures,
        "summary": summary(figures),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    report.write_json(result, args.output)
    print()
    print_table(result)
    print(f"\nResults in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
