"""`python -m bench.connections`: PostgreSQL's connection count for a fleet of Folio processes, without and
with PgBouncer in transaction mode in front of it.

Simulates `--hosts` hosts on this machine, each running the Procfile's `web` line (`--web` Granian workers) and
its `worker` line, all on one embedded PostgreSQL and Valkey (started here under `.data/connections/`, with the
demo data). For each setup it counts the server's client backends (`pg_stat_activity`) once the pools have
opened, then at their peak while every web process serves uncached portfolio reads for `--load-s` seconds, and
the connections the processes hold to PgBouncer. Debian's `pgbouncer` must be installed (apt-get install
pgbouncer). Stops everything it started, also when interrupted.
"""

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg

from bench.servers import ROOT, die_with_parent
from cli.demo_data import load_demo_data
from cli.devrun import read_procfile
from cli.embedded import EmbeddedServerError, EmbeddedServers, free_port, fresh_session_dir, start_embedded
from cli.embedded.pgbouncer import PgBouncer, pgbouncer_binary
from config.settings import load_settings
from config.wiring.release import migrate
from gateway.auth import mint_token

PROCFILE = ROOT / "Procfile"
DEMO_USERS = 10_000
SETTLE_S = 20.0  # the pools open their minimum in the background: wait until the count holds still
COUNT = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND datname = current_database() AND pid <> pg_backend_pid()"
)


@dataclass
class Figures:
    setup: str
    processes: int
    idle: int  # server connections once the pools opened
    peak: int  # server connections at most, under load
    clients: int  # connections the processes hold to PgBouncer (0: they connect to PostgreSQL directly)
    requests: int
    errors: int


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    args = _parser().parse_args(argv)
    if pgbouncer_binary() is None:
        print("error: pgbouncer is not installed (Debian: apt-get install pgbouncer)", file=sys.stderr)
        return 2
    data_dir = fresh_session_dir(ROOT / ".data" / "connections")
    print(f"Starting PostgreSQL and Valkey under {data_dir}/ and loading the demo data ...", flush=True)
    try:
        with start_embedded({}, data_dir, fast=True) as servers:
            migrate(load_settings(servers.env()))
            load_demo_data(servers.database_url)
            rows = [measure(servers, data_dir, args, pooled) for pooled in (False, True)]
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (EmbeddedServerError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print_table(rows, args)
    return 0


def measure(servers: EmbeddedServers, data_dir: Path, args: argparse.Namespace, pooled: bool) -> Figures:
    setup = f"PgBouncer (transaction, pool {args.bouncer_pool})" if pooled else "direct"
    print(f"--> {setup}: {args.hosts} hosts x ({args.web} web + 1 worker)", flush=True)
    env = _env(servers, data_dir)
    with contextlib.ExitStack() as stack:
        bouncer = None
        if pooled:
            bouncer = PgBouncer(servers.database_url, data_dir / "pgbouncer", pool_size=args.bouncer_pool)
            bouncer.start()
            stack.callback(bouncer.stop)
            env |= {"DATABASE_URL": bouncer.url(), "DATABASE_DIRECT_URL": servers.database_url}
            env["DATABASE_POOLER"] = "pgbouncer"
        webs = stack.enter_context(_fleet(env, data_dir / ("pooled" if pooled else "direct"), args))
        idle = _settled_count(servers.database_url)
        requests, errors, peak = asyncio.run(_load(webs, env, servers.database_url, args.load_s, args.concurrency))
        clients = _clients(bouncer.port) if bouncer else 0
    processes = args.hosts * (args.web + 1)
    return Figures(setup, processes, idle, peak, clients, requests, errors)


def _env(servers: EmbeddedServers, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        **servers.env(),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "ENVIRONMENT": "production",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "METRICS": "false",
        "DATA_DIR": str(data_dir),
        "JWT_SECRET": os.urandom(32).hex(),
        "API_KEY_SECRET": os.urandom(32).hex(),
        # Every read goes to the database, so the pools grow as far as the load takes them.
        "PORTFOLIO_CACHE": "false",
        "LOCAL_CACHE": "false",
        "RATE_LIMIT_PER_MINUTE": "100000000",
        "RATE_LIMIT_OPERATOR_PER_MINUTE": "100000000",
    }


@contextlib.contextmanager
def _fleet(env: Mapping[str, str], log_dir: Path, args: argparse.Namespace) -> Iterator[list[str]]:
    """Each host's `web` (WEB_CONCURRENCY=--web) and `worker` lines from the Procfile; yields the web URLs."""
    log_dir.mkdir(parents=True, exist_ok=True)
    lines = read_procfile(PROCFILE)
    urls: list[str] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for host in range(1, args.hosts + 1):
            port = free_port()
            web_env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(args.web)}
            procs.append(_start(lines["web"], web_env, log_dir / f"web{host}.log"))
            procs.append(_start(lines["worker"], {**env, "WORKER_PROCESSES": "1"}, log_dir / f"worker{host}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            _wait_ready(url, procs)
        yield urls
    finally:
        for proc in procs:
            _stop(proc)


def _start(command: str, env: Mapping[str, str], log_path: Path) -> "subprocess.Popen[bytes]":
    with log_path.open("wb") as log:
        return subprocess.Popen(
            ["sh", "-c", f"exec {command}"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, process_group=0, preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl
        )  # fmt: skip


def _wait_ready(url: str, procs: list["subprocess.Popen[bytes]"], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a Folio process exited while starting; see its log under .data/connections/")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} was not ready in {timeout:.0f} s")


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _count(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(COUNT).fetchone()
    return int(row[0]) if row else 0


def _settled_count(database_url: str) -> int:
    """The count once it held still for 2 s (the pools fill their minimum in the background)."""
    deadline = time.monotonic() + SETTLE_S
    last, since = _count(database_url), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < 2.0:
        time.sleep(0.25)
        if (now := _count(database_url)) != last:
            last, since = now, time.monotonic()
    return last


async def _load(
    webs: list[str], env: Mapping[str, str], database_url: str, seconds: float, concurrency: int
) -> tuple[int, int, int]:
    """Uncached portfolio reads from `concurrency` clients per host; (requests, errors, peak count)."""
    token = mint_token(load_settings(env), subject="operator", scope="operator")
    headers = {"Authorization": f"Bearer {token}"}
    stop_at = time.monotonic() + seconds
    counts = {"requests": 0, "errors": 0}

    async def client(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at:
            try:
                r = await http.get(f"/api/user/{random.randint(1, DEMO_USERS)}/portfolio", headers=headers)
                counts["errors"] += r.status_code != 200
            except httpx.HTTPError:
                counts["errors"] += 1
            counts["requests"] += 1

    async def sample() -> int:
        peak = 0
        while time.monotonic() < stop_at:
            peak = max(peak, await asyncio.to_thread(_count, database_url))
            await asyncio.sleep(0.1)
        return peak

    limits = httpx.Limits(max_connections=concurrency)
    async with contextlib.AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, limits=limits, timeout=10)) for url in webs
        ]
        sampler = asyncio.create_task(sample())
        await asyncio.gather(*(client(http) for http in https for _ in range(concurrency)))
        peak = await sampler
    return counts["requests"], counts["errors"], peak


def _clients(port: int) -> int:
    """Established TCP connections to PgBouncer's port, from the processes' side."""
    return sum(
        1 for c in psutil.net_connections("tcp") if c.raddr and c.raddr.port == port and c.status == "ESTABLISHED"
    )


def print_table(rows: list[Figures], args: argparse.Namespace) -> None:
    print(f"\nPostgreSQL connections, {args.hosts} hosts x ({args.web} web + 1 worker), {args.load_s:g} s of load:")
    header = (
        f"{'setup':<34} {'processes':>9} {'idle':>6} {'peak':>6} {'to pgbouncer':>13} {'requests':>9} {'errors':>7}"
    )
    print(header)
    for r in rows:
        clients = r.clients or "-"
        print(f"{r.setup:<34} {r.processes:>9} {r.idle:>6} {r.peak:>6} {clients:>13} {r.requests:>9} {r.errors:>7}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.connections", description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=2, help="simulated hosts (default %(default)s)")
    parser.add_argument("--web", type=int, default=2, help="Granian workers per host (default %(default)s)")
    parser.add_argument(
        "--bouncer-pool", type=int, default=20, help="PgBouncer's default_pool_size (default %(default)s)"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight per host (default %(default)s)")
    parser.add_argument("--load-s", type=float, default=10.0, help="seconds of load (default %(default)s)")
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
