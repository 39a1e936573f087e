"""The live streams' figures: N streams on one web process while quotes tick, for each N in STREAM_COUNTS.

Each N gets a fresh server (the Procfile's web line, one Granian worker on the server core), so its
memory per stream is measured from that server's own start; the load generator (bench/stream_load.py)
runs as a separate process on the other core, one stream per user (users 1..N), and moves 10% of the
equities' prices once a second, as the development feed does.
"""

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.servers import ROOT, WebServer, pinned, web_command

STREAMS = "streams"  # its name for `--scenario`
STREAM_COUNTS = (1_000, 10_000)
MEASURE_S = 20
WARMUP_S = 5
# The development feed's share of equities moved per tick; BENCH_STREAM_FRACTION measures another market.
TICK_FRACTION = float(os.environ.get("BENCH_STREAM_FRACTION", "0.1"))
LOADER_TIMEOUT_S = 300
LIMITED = " (the generator was a bottleneck: its own delay is in these lags)"


def stream_env(base: Mapping[str, str], streams: int) -> dict[str, str]:
    """The production configuration, with room for `streams` (the caps and Granian's concurrency)."""
    return {**base, "STREAM_MAX_PER_PROCESS": str(streams), "GRANIAN_BACKPRESSURE": str(streams + 1000)}


def measure_streams(
    procfile: Path, env: Mapping[str, str], tokens: Path, data_dir: Path, cpus: tuple[int | None, int | None]
) -> dict[str, dict[str, Any]]:
    """{"streams_<N>": the generator's figures} for each N; a run that fails says why instead."""
    figures: dict[str, dict[str, Any]] = {}
    for count in STREAM_COUNTS:
        server = WebServer(
            f"streams-{count}", web_command(procfile, "gateway.app:create_app"), stream_env(env, count),
            data_dir / f"web-streams-{count}.log", cpus[0],
        )  # fmt: skip
        try:
            print(f"--> {count:,} streams on {server.url} (log {server.log_path})", flush=True)
            server.wait_ready("/health/ready")
            figures[f"streams_{count}"] = _drive(server, count, tokens, data_dir, cpus[1])
        finally:
            server.stop()
        r = figures[f"streams_{count}"]
        print(f"    {r.get('open', 0):,} open: lag p50 {r.get('lag_p50_ms')} ms p99 {r.get('lag_p99_ms')} ms,"
              f" server CPU {r.get('server_cpu_pct')}%, {r.get('rss_per_stream_kb')} KB per stream;"
              f" generator CPU {r.get('loader_cpu_pct')}%{LIMITED if r.get('loader_limited') else ''}",
              flush=True)  # fmt: skip
    return figures


def _drive(server: WebServer, count: int, tokens: Path, data_dir: Path, cpu: int | None) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "bench.stream_load", "--url", server.url, "--tokens", str(tokens),
        "--server-pid", str(server.proc.pid), "--streams", str(count), "--seconds", str(MEASURE_S),
        "--warmup", str(WARMUP_S), "--fraction", str(TICK_FRACTION),
    ]  # fmt: skip
    log = data_dir / f"stream-load-{count}.log"
    with log.open("wb") as err:
        done = subprocess.run(
            pinned(command, cpu), cwd=ROOT, stdout=subprocess.PIPE, stderr=err, timeout=LOADER_TIMEOUT_S, check=False
        )
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"the load generator failed ({done.returncode}); log {log}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return {**result, "tick_fraction": TICK_FRACTION}
