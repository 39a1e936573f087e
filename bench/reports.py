"""`python -m bench.reports` (the second half of `make bench`): the report worker against its targets.

Reports per minute and the time per report (claim to finish: analytics, charts, PDF, store, email)
on one worker process with WORKER_THREADS threads, on the demo data: `--reports` requests are queued
at once, so the worker is saturated and every thread has work. (The enqueue latency at the gateway
is a scenario of `python -m bench`: report_enqueue and report_enqueue_paced.)
Starts embedded servers under `.data/bench-reports/` (for unset URLs), writes
`bench/results/reports.json`, and stops everything it started.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import valkey

from bench import report
from cli.demo_data import load_demo_data
from cli.embedded import embedded, fresh_session_dir
from config.settings import load_settings
from config.wiring.release import migrate
from domain.analytics.portfolio import analyse
from domain.models.quotes import AssetClass, DailyClose
from domain.models.reports import ReportHolding
from gateway.auth import mint_token
from tests.processes import ROOT, WebProcess, worker_process

SEED = 20240101
CLASSES: tuple[AssetClass, ...] = ("equity", "etf", "bond", "crypto")
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "reports.json"
SECRET = "bench-secret-bench-secret-bench-secret-0123456789"  # noqa: S105 - a throwaway local key


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def reports_per_worker(env: dict[str, str], token: str, count: int, threads: int, log_dir: Path) -> dict[str, Any]:
    """Queue `count` reports at once, let one worker process with `threads` threads run them all."""
    with worker_process(env, log_dir / f"worker-{threads}.log", processes=1, threads=threads):
        headers = {"Authorization": f"Bearer {token}"}
        web = WebProcess(env, log_path=log_dir / f"web-{threads}.log")
        try:
            web.wait_ready()
            users = range(1, count + 1)
            ids = [
                httpx.post(f"{web.url}/api/generate-report?user_id={u}", headers=headers).json()["task_id"]
                for u in users
            ]
        finally:
            web.stop()
        rows = _wait_finished(env["DATABASE_URL"], ids)
    ok = [r for r in rows if r[0] == "succeeded"]
    each = [float(r[1]) * 1000 for r in ok]
    waited = [float(r[4]) * 1000 for r in ok]
    span = max(float(r[3]) for r in ok) - min(float(r[2]) for r in ok)
    return {
        "what": f"{count} reports queued at once, 1 worker process x {threads} thread(s)",
        "threads": threads,
        "succeeded": len(ok),
        "requested": count,
        "per_minute": round(len(ok) / span * 60, 1),
        "report_p50_ms": round(_pct(each, 50)),
        "report_p95_ms": round(_pct(each, 95)),
        "request_to_done_p50_ms": round(_pct(waited, 50)),
        "request_to_done_p95_ms": round(_pct(waited, 95)),
    }


def _holding(i: int, rng: random.Random, start: date, days: int) -> ReportHolding:
    closes = tuple(
        DailyClose(day=start + timedelta(days=d), close=Decimal(f"{100 + rng.random() * 20:.2f}")) for d in range(days)
    )
    return ReportHolding(
        symbol=f"S{i}",
        name=f"Instrument {i}",
        asset_class=CLASSES[i % len(CLASSES)],
        currency=("USD", "EUR")[i % 2],
        quantity=Decimal(rng.randint(1, 500)),
        average_cost=Decimal(100),
        price=Decimal(110),
        fx_to_base=Decimal("1.08") if i % 2 else Decimal(1),
        closes=closes,
    )


def analytics_time(holdings: int = 30, days: int = 252, runs: int = 200) -> dict[str, Any]:
    """The analytics alone (target: at most 20 ms for 30 holdings x 252 days), on synthetic closes."""
    rng = random.Random(SEED)
    start = date(2025, 1, 2)
    lines = [_holding(i, rng, start, days) for i in range(holdings)]
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        analyse(lines, base_currency="USD", risk_free_rate=0.04, days=days)
        times.append((time.perf_counter() - began) * 1000)
    what = f"analytics, {holdings} holdings x {days} days, {runs} runs"
    return {"what": what, "p50_ms": round(_pct(times, 50), 2), "p95_ms": round(_pct(times, 95), 2)}


def _wait_finished(database_url: str, ids: list[str]) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM reports WHERE id = ANY(%s) AND status IN "
                               "('succeeded', 'failed')", (ids,)).fetchone()  # fmt: skip
            if row and row[0] == len(ids):
                break
            time.sleep(0.2)
        return conn.execute(
            "SELECT status, extract(epoch FROM finished_at - started_at), extract(epoch FROM started_at),"
            " extract(epoch FROM finished_at), extract(epoch FROM finished_at - created_at)"
            " FROM reports WHERE id = ANY(%s)",
            (ids,),
        ).fetchall()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports")
    parser.add_argument("--reports", type=int, default=60, help="reports per worker run (default %(default)s)")
    parser.add_argument("--threads", default="1,4", help="worker thread counts to run (default %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results (default %(default)s)")
    args = parser.parse_args()
    data_dir = fresh_session_dir(ROOT / ".data" / "bench-reports")
    results: dict[str, Any] = {"analytics": analytics_time()}
    print(f"{results['analytics']['what']}: p50 {results['analytics']['p50_ms']} ms,"
          f" p95 {results['analytics']['p95_ms']} ms (target <= 20 ms)", flush=True)  # fmt: skip
    with embedded(os.environ, data_dir, fast=True) as servers:
        env = {**servers.env(), "JWT_SECRET": SECRET, "RATE_LIMIT": "false", "ACCESS_LOG": "false",
               "LOG_LEVEL": "WARNING", "ENVIRONMENT": "test"}  # fmt: skip
        settings = load_settings(env)
        migrate(settings)  # the Procfile's release step
        load_demo_data(servers.database_url)
        token = mint_token(settings, subject="bench", scope="operator")
        for threads in (int(t) for t in args.threads.split(",")):
            with psycopg.connect(servers.database_url, autocommit=True) as conn:
                conn.execute("DELETE FROM reports")
            valkey.Valkey.from_url(servers.valkey_url).flushall()
            result = reports_per_worker({**os.environ, **env}, token, args.reports, threads, data_dir)
            results[f"worker_{threads}_thread"] = result
            print(f"{result['what']}: {result['succeeded']}/{result['requested']} succeeded,"
                  f" {result['per_minute']:.0f} reports/min; per report p50 {result['report_p50_ms']} ms,"
                  f" p95 {result['report_p95_ms']} ms (target p95 <= 1000 ms);"
                  f" request to done p50 {result['request_to_done_p50_ms']} ms", flush=True)  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {"date": report.now_iso(), "command": "python -m bench.reports", "machine": report.machine_info(""),
                "scenarios": results}  # fmt: skip
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
