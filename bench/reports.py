"""`python -m bench.reports`: the report figures against issue 5's targets.

1. Enqueue latency at the gateway: one Granian worker (the Procfile's web line), wrk POSTs
   `/api/generate-report` at 64 connections (no worker running, so only the request is measured;
   the rows and messages are deleted afterwards).
2. Reports per minute and the time per report (claim to finish: analytics, charts, PDF, store, email)
   on one worker process with WORKER_THREADS threads, on the demo data.
Starts embedded servers under `.data/bench-reports/` (for unset URLs) and stops everything it started.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import valkey

from bench.wrk import ensure_wrk
from cli.embedded import embedded, fresh_session_dir
from config.settings import load_settings
from domain.adapters.postgres.demo_data import load_demo_data
from domain.adapters.postgres.migrate import apply_migrations
from gateway.auth import mint_token
from tests.processes import ROOT, WebProcess, worker_process

SECRET = "bench-secret-bench-secret-bench-secret-0123456789"  # noqa: S105 - a throwaway local key
LUA = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {token}"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/api/generate-report?user_id=" .. (counter % 10000 + 1))
end
"""


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def enqueue_latency(env: dict[str, str], token: str, seconds: int, log_dir: Path) -> str:
    web = WebProcess(env, log_path=log_dir / "web.log")
    try:
        web.wait_ready()
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA.format(token=token))
        wrk = ensure_wrk()
        args = [wrk, "-t1", "-c64", f"-d{seconds}s", "--latency", "-s", script.name, web.url]
        subprocess.run([*args[:4], "-d3s", *args[5:]], capture_output=True, check=True)  # warm-up
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    finally:
        web.stop()
    return out


def reports_per_worker(env: dict[str, str], token: str, count: int, log_dir: Path) -> str:
    with worker_process(env, log_dir / "worker.log", processes=1, threads=int(env.get("WORKER_THREADS", "4"))):
        headers = {"Authorization": f"Bearer {token}"}
        web = WebProcess(env, log_path=log_dir / "web2.log")
        try:
            web.wait_ready()
            ids = [
                httpx.post(f"{web.url}/api/generate-report?user_id={u}", headers=headers).json()["task_id"]
                for u in range(1, count + 1)
            ]
        finally:
            web.stop()
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                row = conn.execute("SELECT count(*) FROM reports WHERE id = ANY(%s) AND status IN "
                                   "('succeeded', 'failed')", (ids,)).fetchone()  # fmt: skip
                if row and row[0] == count:
                    break
                time.sleep(0.2)
            rows = conn.execute(
                "SELECT status, extract(epoch FROM finished_at - started_at), extract(epoch FROM started_at),"
                " extract(epoch FROM finished_at) FROM reports WHERE id = ANY(%s)",
                (ids,),
            ).fetchall()
    ok = [r for r in rows if r[0] == "succeeded"]
    each = [float(r[1]) * 1000 for r in ok]
    span = max(float(r[3]) for r in ok) - min(float(r[2]) for r in ok)
    return (
        f"reports: {len(ok)}/{count} succeeded; per report p50 {_pct(each, 50):.0f} ms, p95 {_pct(each, 95):.0f} ms;"
        f" {len(ok) / span * 60:.0f} reports/min on one worker process ({env.get('WORKER_THREADS', '4')} threads)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration of the enqueue run")
    parser.add_argument("--reports", type=int, default=60, help="reports in the worker run")
    args = parser.parse_args()
    data_dir = fresh_session_dir(ROOT / ".data" / "bench-reports")
    with embedded(os.environ, data_dir, fast=True) as servers:
        apply_migrations(servers.database_url)
        load_demo_data(servers.database_url)
        env = {**servers.env(), "JWT_SECRET": SECRET, "RATE_LIMIT": "false", "ACCESS_LOG": "false",
               "LOG_LEVEL": "WARNING", "ENVIRONMENT": "test"}  # fmt: skip
        settings = load_settings(env)
        token = mint_token(settings, subject="bench", scope="operator")
        print(enqueue_latency(env, token, args.seconds, data_dir))
        with psycopg.connect(servers.database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM reports")
        valkey.Valkey.from_url(servers.valkey_url).flushall()
        print(reports_per_worker({**os.environ, **env}, token, args.reports, data_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
