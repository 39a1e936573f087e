"""`python -m bench.console`: what the operator console costs a web process.

One web process (one Granian worker, as the tests start it) on embedded servers. Measured: the first load
(the page and its two files, compressed as a browser asks), the time to the first live snapshot on loopback,
and the web process's CPU over MEASURE_S with no console open and then with CONSOLES consoles open (each an
event stream, as a browser tab keeps one), in % of one core.
"""

import argparse
import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import report
from cli.demo_data import load_demo_data
from cli.embedded import embedded, fresh_session_dir
from config.settings import load_settings
from config.wiring.release import migrate
from gateway.auth import mint_token
from tests.processes import ROOT, WebProcess

CONSOLES = 20
MEASURE_S = 30.0
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "console.json"
SECRET = "bench-secret-bench-secret-bench-secret-0123456789"  # noqa: S105 - a throwaway local key


def tree_cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process and its children (Granian's worker)."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


async def cpu_pct_while(pid: int, seconds: float) -> float:
    before, start = tree_cpu_s(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return round((tree_cpu_s(pid) - before) / (time.monotonic() - start) * 100, 2)


async def sign_in(client: httpx.AsyncClient, token: str) -> str:
    r = await client.post("/console/session", json={"token": token})
    r.raise_for_status()
    return r.headers["set-cookie"].split(";", 1)[0]


async def first_load(client: httpx.AsyncClient) -> dict[str, Any]:
    gzip = {"Accept-Encoding": "gzip, br"}
    started = time.monotonic()
    page = await client.get("/console", headers=gzip)
    sizes = {"page": len(page.content)}  # httpx decodes: measure the wire size from the header when there is one
    wire = int(page.headers.get("content-length", len(page.content)))
    for path in re.findall(r'(?:src|href)="(/console/assets/[^"]+)"', page.text):
        asset = await client.get(path, headers=gzip)
        wire += int(asset.headers.get("content-length", len(asset.content)))
        sizes[path.rsplit("/", 1)[1]] = len(asset.content)
    await client.get("/console/session")  # the page's first call (a 401 here: the sign-in form shows)
    return {"first_load_wire_bytes": wire, "first_load_s": round(time.monotonic() - started, 3),
            "uncompressed_bytes": sizes}  # fmt: skip


async def open_console(url: str, cookie: str, opened: asyncio.Event, stop: asyncio.Event) -> float:
    """One console's event stream until `stop`; the seconds to its first snapshot."""
    started = time.monotonic()
    first = 0.0
    async with (
        httpx.AsyncClient(base_url=url, headers={"Cookie": cookie}, timeout=httpx.Timeout(10, read=60)) as client,
        client.stream("GET", "/console/events") as stream,
    ):
        async for line in stream.aiter_lines():
            if line == "event: snapshot" and not first:
                first = time.monotonic() - started
                opened.set()
            if stop.is_set():
                break
    return first


async def measure(web: WebProcess, token: str, pid: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=web.url, timeout=10) as client:
        load = await first_load(client)
        cookie = await sign_in(client, token)
    idle = await cpu_pct_while(pid, MEASURE_S)
    stop, opened = asyncio.Event(), [asyncio.Event() for _ in range(CONSOLES)]
    tasks = [asyncio.create_task(open_console(web.url, cookie, o, stop)) for o in opened]
    await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 30)
    busy = await cpu_pct_while(pid, MEASURE_S)
    stop.set()
    firsts = await asyncio.gather(*tasks)
    return {
        **load,
        "first_snapshot_s_max": round(max(firsts), 3),
        "cpu_pct_no_console": idle,
        f"cpu_pct_{CONSOLES}_consoles": busy,
        "cpu_pct_added": round(busy - idle, 2),
        "measure_s": MEASURE_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results (default %(default)s)")
    args = parser.parse_args()
    data_dir = fresh_session_dir(ROOT / ".data" / "bench-console")
    with embedded(os.environ, data_dir, fast=True) as servers:
        env = {**servers.env(), "JWT_SECRET": SECRET, "RATE_LIMIT": "false", "ACCESS_LOG": "false",
               "LOG_LEVEL": "WARNING", "ENVIRONMENT": "development"}  # fmt: skip
        settings = load_settings(env)
        migrate(settings)
        load_demo_data(servers.database_url)
        web = WebProcess({**os.environ, **env}, log_path=data_dir / "web.log")
        try:
            web.wait_ready()
            token = mint_token(settings, subject="bench", scope="operator", role="read")
            result = asyncio.run(measure(web, token, web.proc.pid))
        finally:
            web.stop()
    print(f"console: first load {result['first_load_wire_bytes']:,} bytes on the wire (target <= 150 KB)"
          f" in {result['first_load_s']} s (target: interactive within 1 s),"
          f" first snapshot within {result['first_snapshot_s_max']} s; web process CPU"
          f" {result['cpu_pct_no_console']}% with no console, {result[f'cpu_pct_{CONSOLES}_consoles']}% with"
          f" {CONSOLES}: +{result['cpu_pct_added']}% of one core (target < 2%)", flush=True)  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {"date": report.now_iso(), "command": "python -m bench.console", "machine": report.machine_info(""),
                "scenarios": {"console": result}}  # fmt: skip
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
