"""The processes on each host: the `db` host's servers, the Procfile's `web` and `worker` per app host, HAProxy.

Every process is started here through `ip netns exec <host>` (which execs, so the PID is the process's own) in
a process group of its own, dies with the runner (parent-death signal), and is stopped by its PID's group.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from bench.fleet.net import Network
from cli.devrun import read_procfile
from cli.embedded.processes import log_tail, spawn

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = ROOT / "Procfile"
WEB_PORT = 8000
LB_PORT = 80


class HostProcess:
    """One command on one host; `stop()` is SIGTERM to its group then SIGKILL, `kill()` SIGKILL at once."""

    def __init__(self, net: Network, host: str, name: str, command: list[str], env: dict[str, str], log: Path):
        self.host, self.name, self.log_path = host, name, log
        self._offset = log.stat().st_size if log.exists() else 0
        self.proc = spawn(
            [*net.exec_prefix(host), *command], log, cwd=ROOT, death_signal=signal.SIGKILL, env={**os.environ, **env}
        )

    def log(self) -> str:
        return log_tail(self.log_path, self._offset, lines=60)

    def members(self) -> list[psutil.Process]:
        """This process and all its descendants."""
        with contextlib.suppress(psutil.Error):
            leader = psutil.Process(self.proc.pid)
            return [leader, *leader.children(recursive=True)]
        return []

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM, wait up to `timeout` (then SIGKILL); the seconds it took to exit."""
        started = time.monotonic()
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        return time.monotonic() - started

    def kill(self) -> None:
        members = self.members()
        self.signal(signal.SIGKILL)
        for member in members:  # a descendant may run in a session of its own
            with contextlib.suppress(psutil.Error):
                member.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def wait_until(check: Callable[[], bool], what: str, proc: HostProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if not proc.alive():
            raise RuntimeError(f"{proc.name} on {proc.host} exited while waiting for {what}; log:\n{proc.log()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} on {proc.host}: no {what} in {timeout:.0f} s; log:\n{proc.log()}")
        time.sleep(0.1)


def start_db(net: Network, data_dir: Path, *, pgbouncer: bool = False) -> HostProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "ready").unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.fleet.dbhost", str(data_dir), *(["--pgbouncer"] if pgbouncer else [])]
    proc = HostProcess(net, "db", "database and cache", command, {}, data_dir / "dbhost.log")
    wait_until((data_dir / "ready").exists, "PostgreSQL and Valkey", proc, 120)
    return proc


class AppHost:
    """An app host: the Procfile's `web` and `worker`, run by a shell as a platform runs them (`sh -c`)."""

    def __init__(self, net: Network, host: str, env: dict[str, str], log_dir: Path) -> None:
        self.net, self.host, self.log_dir = net, host, log_dir
        self.url = f"http://{net.address(host)}:{WEB_PORT}"
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **env,
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
            "PORT": str(WEB_PORT),
            "HOST": "0.0.0.0",
            "WEB_CONCURRENCY": "2",
            "INSTANCE_ID": host,
            "DATA_DIR": str(log_dir / "data"),
            "METRICS_DIR": str(log_dir / "metrics"),
            "PYTHONUNBUFFERED": "1",
        }
        log_dir.mkdir(parents=True, exist_ok=True)
        self.commands = read_procfile(PROCFILE)
        self.web: HostProcess | None = None
        self.worker: HostProcess | None = None

    def _run(self, kind: str) -> HostProcess:
        env = {**self.env, "LOG_LEVEL": "INFO"} if kind == "worker" else self.env  # "ready for action" is INFO
        command = ["sh", "-c", f"exec {self.commands[kind]}"]
        return HostProcess(self.net, self.host, kind, command, env, self.log_dir / f"{kind}.log")

    def launch(self) -> None:
        """Start `web` and `worker` (without waiting: hosts boot side by side)."""
        self.web, self.worker = self._run("web"), self._run("worker")

    def wait_started(self, timeout: float = 120.0) -> None:
        web, worker = self.web, self.worker
        assert web is not None
        assert worker is not None
        wait_until(self.ready, "readiness", web, timeout)
        wait_until(lambda: "ready for action" in worker.log(), "worker readiness", worker, timeout)

    def start(self) -> None:
        self.launch()
        self.wait_started()

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def processes(self) -> list[HostProcess]:
        return [p for p in (self.web, self.worker) if p is not None]

    def kill(self) -> tuple[float, float]:
        """SIGKILL every process of the host at once; (when the signals went, when every one was gone), monotonic.

        Gone means each process, Granian's and Dramatiq's children too: on a busy machine a killed process
        takes a while to be torn down, and its sockets stay open until it is."""
        members = [member for proc in self.processes() for member in proc.members()]
        signalled = time.monotonic()
        for proc in self.processes():
            proc.signal(signal.SIGKILL)
        for member in members:  # also those in a session of their own (the web line's server under `cli.web`)
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(members, timeout=10)
        for proc in self.processes():
            proc.kill()  # reaps the group leader
        return signalled, time.monotonic()

    def stop(self) -> None:
        for proc in self.processes():
            proc.stop()


HAPROXY_CONFIG = """\
global
    maxconn 8000
    stats socket {socket} mode 600 level admin
    log stdout format short local0 warning

defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 5s
    # A refused or reset attempt goes again, to the other host (redispatch): a host going away costs no request.
    # Trades carry an Idempotency-Key, so a request that reached a dying host is replayed, not repeated.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
    http-reuse safe

frontend api
    bind {lb}:{lb_port}
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    # Out after 3 failed checks (a host that stops refuses at once, and its requests are redispatched
    # meanwhile); a check may take 3 s, so that a host slowed by load is not taken out with the other one.
    timeout check 3s
    default-server check inter 1s fall 3 rise 2 maxconn 1000
{servers}
"""


def start_haproxy(net: Network, app_hosts: list[str], data_dir: Path) -> HostProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"    server {h} {net.address(h)}:{WEB_PORT}" for h in app_hosts)
    config = data_dir / "haproxy.cfg"
    socket = data_dir / "haproxy.sock"
    config.write_text(HAPROXY_CONFIG.format(socket=socket, lb=net.address("lb"), lb_port=LB_PORT, servers=servers))
    proc = HostProcess(net, "lb", "haproxy", [haproxy_path(), "-db", "-f", str(config)], {}, data_dir / "haproxy.log")
    wait_until(lambda: lb_ready(net), "HAProxy", proc, 30)
    return proc


def lb_ready(net: Network) -> bool:
    try:
        return httpx.get(f"http://{net.address('lb')}:{LB_PORT}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def haproxy_path() -> str:
    return shutil.which("haproxy") or "/usr/sbin/haproxy"
