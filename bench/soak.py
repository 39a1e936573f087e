"""`python -m bench.soak` (`make soak`): Folio at half its measured capacity for ten minutes, checked for drift.

Starts embedded PostgreSQL/Valkey/SMTP for unset URLs under `.data/soak/` with the bench's demo data (a fresh
copy), the Procfile's web line (one Granian worker, core 0) and a worker as the Procfile runs it. It measures
the mix's closed-loop throughput for 10 s, then offers a fraction of it (paced wrk on core 1, one run per
minute, so each minute has its throughput, p99 and errors) while 500 portfolio streams stay open and quotes
tick, a few users request reports at a steady small rate, and their webhook endpoints (a local receiver)
get their trades and reports. Every 10 s it samples each Folio process's RSS and open descriptors.
After the warm-up minute(s) it checks the criteria (bench/soak_criteria.py), prints PASS/FAIL per criterion,
writes `bench/results/soak.json` and the chart `docs/soak.png`, and exits non-zero on a FAIL.
Everything it starts is stopped by its PID, also on a failure or Ctrl-C.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import report
from bench.__main__ import API_KEY_SECRET, BENCH_RATE_LIMITS, JWT_SECRET, PRODUCTION, SEED, USERS, ZIPF_S, mint_tokens
from bench.data import BenchData, prepare
from bench.scenarios import LUA_DIR
from bench.servers import (
    APP_TARGET,
    ROOT,
    WebServer,
    die_with_parent,
    pinned,
    pinning_cpus,
    unwind_on_signals,
    web_command,
)
from bench.soak_chart import write_chart
from bench.soak_criteria import Minute, judge
from bench.soak_watch import (
    WEBHOOK_USERS,
    ReportRequester,
    Sampler,
    drain,
    read_every_portfolio,
    register_endpoints,
    stream_figures,
)
from bench.streams import stream_env
from bench.webhooks import Receiver
from bench.wrk import WrkMissingError, WrkRun, ensure_wrk, run_wrk, wrk_version
from cli.embedded import EmbeddedServerError
from config.settings import load_settings
from tests.processes import worker_process

PROCFILE = ROOT / "Procfile"
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "soak.json"
DEFAULT_CHART = ROOT / "docs" / "soak.png"
CONNECTIONS = 64  # as `make bench`: the capacity and the paced load use the same connections
CAPACITY_S = 10
SAMPLE_S = 10.0
REPORT_USERS = range(1, 6)  # they take turns asking for a report
REPORT_INTERVAL_S = 5.0  # 12 reports a minute: a steady trickle a worker of 4 threads keeps up with
STEADY_AFTER_S = 3.0
DRAIN_S = 180.0  # after the load: how long the last reports and deliveries may take to finish


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes", type=int, default=10, help="minutes of load, the warm-up included (default %(default)s)"
    )
    parser.add_argument(
        "--warmup-minutes", type=int, default=2, help="first minutes left out of the criteria (default %(default)s)"
    )
    parser.add_argument(
        "--fraction", type=float, default=0.5, help="of the measured capacity offered (default %(default)s)"
    )
    parser.add_argument(
        "--streams", type=int, default=500, help="live portfolio streams held open (default %(default)s)"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON results (default {DEFAULT_OUTPUT.relative_to(ROOT)})"
    )
    parser.add_argument(
        "--chart", type=Path, default=DEFAULT_CHART, help=f"PNG chart (default {DEFAULT_CHART.relative_to(ROOT)})"
    )
    return parser  # fmt: skip


def web_env(data: BenchData, streams: int) -> dict[str, str]:
    """The bench's production configuration (a variable set in the environment wins), room for the streams."""
    env = {
        **data.env,
        **{name: os.environ.get(name, value) for name, value in {**PRODUCTION, **BENCH_RATE_LIMITS}.items()},
    }
    return stream_env({**env, "JWT_SECRET": JWT_SECRET, "API_KEY_SECRET": API_KEY_SECRET}, streams)  # fmt: skip


def worker_env(web: dict[str, str]) -> dict[str, str]:
    # The receiver is plain HTTP on loopback, which production refuses to deliver to; the rest is the web's.
    return {**web, "ENVIRONMENT": "test", "WEBHOOK_ALLOW_PRIVATE": "true"}


class Load:
    """wrk against the server, pinned to the load core, with the bench's Lua settings."""

    def __init__(self, wrk: str, url: str, lua_env: dict[str, str], log: Path, cpu: int | None) -> None:
        self.wrk, self.url, self.lua_env, self.log, self.cpu = wrk, url, lua_env, log, cpu
        self.since: float | None = None  # when the running wrk started

    def run(self, script: str, seconds: int, **extra: str) -> WrkRun:
        self.since = time.monotonic()
        try:
            return run_wrk(self.wrk, LUA_DIR / script, self.url, seconds=seconds, connections=CONNECTIONS,
                           env={**self.lua_env, **extra}, log_path=self.log, cpu=self.cpu)  # fmt: skip
        finally:
            self.since = None

    def steady(self) -> bool:
        """A wrk runs and has had time to open its connections."""
        since = self.since
        return since is not None and time.monotonic() - since > STEADY_AFTER_S


def start_streams(stack: ExitStack, web: WebServer, tokens: Path, args: argparse.Namespace, data_dir: Path,
                  cpu: int | None) -> subprocess.Popen[bytes]:  # fmt: skip
    """bench/stream_load.py as its own process on the load core, for the whole run."""
    command = [sys.executable, "-m", "bench.stream_load", "--url", web.url, "--tokens", str(tokens),
               "--server-pid", str(web.proc.pid), "--streams", str(args.streams),
               "--seconds", str(args.minutes * 60), "--warmup", "2"]  # fmt: skip
    with (data_dir / "stream-load.log").open("wb") as err:
        proc = subprocess.Popen(pinned(command, cpu), cwd=ROOT, stdout=subprocess.PIPE, stderr=err,
                                process_group=0, preexec_fn=die_with_parent)  # fmt: skip # noqa: PLW1509
    stack.callback(_stop, proc)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def run_minutes(
    load: Load, args: argparse.Namespace, offered: float, t0: float
) -> tuple[list[Minute], list[dict[str, Any]]]:
    """One paced wrk run a minute; the first (a warm-up) also calibrates the pace (see `calibrated`)."""
    series, summaries = [], []
    interval_ms = CONNECTIONS * 1000 / offered
    for i in range(args.minutes):
        start = time.monotonic() - t0
        result = load.run("mix_paced.lua", 60, BENCH_MIX_INTERVAL_MS=f"{interval_ms:.1f}").summary()
        series.append(Minute(round(start, 1), result["rps"], result["p99_ms"], result["errors"]))
        summaries.append({"minute": i + 1, "start_s": round(start, 1), "interval_ms": round(interval_ms, 1), **result})
        kinds = ", ".join(f"{kind} {n}" for kind, n in result["error_kinds"].items() if n)  # status: HTTP >= 400
        print(f"    minute {i + 1}{' (warm-up)' if i < args.warmup_minutes else ''}: {result['rps']:,.0f} req/s"
              f"  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  errors {result['errors']}"
              f"{f' ({kinds})' if kinds else ''}", flush=True)  # fmt: skip
        if i == 0:
            interval_ms = calibrated(interval_ms, result["all_rps"], offered)
            print(f"    pace: {interval_ms:.1f} ms between a connection's requests from now on", flush=True)
    return series, summaries


def calibrated(interval_ms: float, achieved: float, offered: float) -> float:
    """The pause that offers `offered` req/s, given that `interval_ms` achieved `achieved`.

    Each connection waits for its answer before its pause, so its cycle is the pause plus the answer's time:
    the first minute measures that time under this very load, and the later minutes pause that much less."""
    if achieved <= 0:
        return interval_ms
    answer_ms = CONNECTIONS * 1000 / achieved - interval_ms
    return max(1.0, CONNECTIONS * 1000 / offered - answer_ms)


def measure_capacity(load: Load, args: argparse.Namespace) -> tuple[dict[str, Any], float]:
    """The mix's closed-loop figures on this server, and the req/s to offer (`--fraction` of its throughput)."""
    print(f"--> capacity: the mix, closed loop, {CONNECTIONS} connections, {CAPACITY_S} s", flush=True)
    load.run("mix.lua", 3)  # warms the pools and caches, so the capacity is a steady state's
    capacity = load.run("mix.lua", CAPACITY_S).summary()
    offered = capacity["rps"] * args.fraction
    print(f"    {capacity['rps']:,.0f} req/s, p99 {capacity['p99_ms']:.2f} ms; offering {offered:,.0f} req/s"
          f" ({args.fraction:.0%}) with {args.streams} streams, reports and webhooks", flush=True)  # fmt: skip
    return capacity, offered


def soak(args: argparse.Namespace, wrk: str, data: BenchData, data_dir: Path, stack: ExitStack) -> dict[str, Any]:
    env, cpus = web_env(data, args.streams), pinning_cpus()
    web = WebServer("soak", web_command(PROCFILE, APP_TARGET), env, data_dir / "web.log", cpus[0])
    stack.callback(web.stop)
    print(f"--> web server on {web.url} (log {web.log_path.relative_to(ROOT)})", flush=True)
    web.wait_ready("/health/ready")
    tokens = mint_tokens(web.url, range(1, USERS + 1), data_dir / "tokens", env)
    if tokens is None:
        raise RuntimeError("no tokens for the load")
    by_user = dict(line.split(maxsplit=1) for line in tokens.read_text().splitlines())
    receiver = Receiver()
    register_endpoints(env["DATABASE_URL"], WEBHOOK_USERS, f"http://127.0.0.1:{receiver.port}/hook")
    worker = stack.enter_context(worker_process(worker_env(env), data_dir / "worker.log", processes=1, threads=4))
    symbols = data_dir / "symbols.txt"
    symbols.write_text("\n".join(data.symbols) + "\n")
    lua_env = {"BENCH_USERS": str(USERS), "BENCH_ZIPF_S": str(ZIPF_S), "BENCH_SEED": str(SEED),
               "BENCH_SYMBOLS": str(symbols), "BENCH_TOKENS": str(tokens)}  # fmt: skip
    load = Load(wrk, web.url, lua_env, data_dir / "wrk.log", cpus[1])
    capacity, offered = measure_capacity(load, args)
    print(f"--> warm-up: every user's portfolio once ({USERS:,} users)", flush=True)
    read, other = read_every_portfolio(web.url, {int(u): token for u, token in by_user.items() if u.isdigit()})
    print(f"    {read:,} read, {other} other answers", flush=True)
    t0 = time.monotonic()
    streams = start_streams(stack, web, tokens, args, data_dir, cpus[1])
    sampler = Sampler({"web master": (web.proc.pid, "web worker"), "worker": (worker.proc.pid, "worker process")},
                      t0, SAMPLE_S, load.steady)  # fmt: skip
    requester = ReportRequester(web.url, {u: by_user[str(u)] for u in REPORT_USERS}, REPORT_INTERVAL_S)
    sampler.sample()
    sampler.start()
    requester.start()
    series, summaries = run_minutes(load, args, offered, t0)
    requester.stop()
    sampler.stop()
    return {
        "capacity": capacity, "offered_rps": round(offered, 1),
        "series": series, "minutes": summaries, "samples": sampler.samples,
        "restarted": sorted(label for label, pids in sampler.pids.items() if len(pids) > 1),
        **drain(env["DATABASE_URL"], requester, stream_figures(streams), lambda: len(set(receiver.ids)), args.streams,
                DRAIN_S),
    }  # fmt: skip


def document(args: argparse.Namespace, wrk: str, run: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    warmup_s = run["series"][args.warmup_minutes].start_s
    verdicts = judge(run["series"], run["samples"], run["failures"], args.warmup_minutes)
    return {
        "date": report.now_iso(), "command": " ".join(["python -m bench.soak", *argv]),
        "machine": report.machine_info(wrk_version(wrk)),
        "settings": {"minutes": args.minutes, "warmup_minutes": args.warmup_minutes, "fraction": args.fraction,
                     "streams": args.streams, "connections": CONNECTIONS, "report_every_s": REPORT_INTERVAL_S,
                     "sample_every_s": SAMPLE_S,
                     "report_users": len(REPORT_USERS), "webhook_users": len(WEBHOOK_USERS)},
        "capacity": run["capacity"], "offered_rps": run["offered_rps"],
        "warmup_s": warmup_s, "minutes": run["minutes"],
        "samples": [{"at_s": s.at_s, "processes": {k: {"rss_mb": round(r / 2**20, 1), "fds": f}
                     for k, (r, f) in s.processes.items()}} for s in run["samples"]],
        "streams": run["streams"], "reports": run["reports"], "webhooks": run["webhooks"],
        "restarted_processes": run["restarted"], "failures": asdict(run["failures"]),
        "verdicts": [asdict(v) for v in verdicts], "passed": all(v.passed for v in verdicts) and not run["restarted"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    unwind_on_signals()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if not 0 < args.warmup_minutes < args.minutes or not 0 < args.fraction <= 1:
        print("error: --warmup-minutes must be at least 1 and below --minutes; --fraction in (0, 1]", file=sys.stderr)
        return 2
    try:
        wrk = ensure_wrk()
    except WrkMissingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    data_dir = (ROOT / load_settings().data_dir / "soak").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "wrk.log").write_text("")
    try:
        with ExitStack() as stack:
            data = prepare(data_dir, PROCFILE)
            stack.callback(data.close)
            run = soak(args, wrk, data, data_dir, stack)
            print("Stopping the processes and embedded servers ...", flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (EmbeddedServerError, RuntimeError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return finish(args, wrk, run, argv)


def finish(args: argparse.Namespace, wrk: str, run: dict[str, Any], argv: list[str]) -> int:
    result = document(args, wrk, run, argv)
    report.write_json(result, args.output)
    write_chart(result, args.chart)
    print()
    for verdict in result["verdicts"]:
        print(f"{'PASS' if verdict['passed'] else 'FAIL'}  {verdict['name']}: {verdict['detail']}")
    if result["restarted_processes"]:
        print(f"FAIL  processes restarted during the run: {', '.join(result['restarted_processes'])}")
    shown = [path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
             for path in (args.output, args.chart)]  # fmt: skip
    print(f"\nresults in {shown[0]}, chart in {shown[1]}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
