"""The web servers under test: the Procfile's `web` line, one Granian worker, pinned to one core."""

import contextlib
import ctypes
import http.client
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import Self

import psutil

from cli.devrun import read_procfile
from cli.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
APP_TARGET = "gateway.app:create_app"
CEILING_TARGET = "bench.ceiling:create_app"
RAW_TARGET = "bench.ceiling:create_raw_app"
HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if this process dies (Linux), so nothing outlives a killed bench."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def unwind_on_signals() -> None:
    """Ctrl-C and SIGTERM both raise KeyboardInterrupt, so a bench unwinds through its `finally` and stops all
    it started."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def pinned(command: list[str], cpu: int | None) -> list[str]:
    """`command` under `taskset -c <cpu>`, or as is when not pinning."""
    return ["taskset", "-c", str(cpu), *command] if cpu is not None else command


def pinning_cpus() -> tuple[int | None, int | None]:
    """(server core, load core): 0 and 1 where there are two cores and taskset; else unpinned."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return 0, 1
    print("warning: fewer than 2 cores or no taskset; server and wrk run unpinned", file=sys.stderr)
    return None, None


def web_command(procfile: Path, target: str) -> str:
    """The Procfile's web line, serving `target` instead of the app when asked (the ceiling)."""
    line = read_procfile(procfile).get("web")
    if line is None or APP_TARGET not in line:
        raise RuntimeError(f"{procfile} has no web line serving {APP_TARGET}")
    return line.replace(APP_TARGET, target)


class WebServer:
    """One Granian process group started from the Procfile's web line on a free loopback port."""

    def __init__(self, name: str, command: str, env: Mapping[str, str], log_path: Path, cpu: int | None) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        server_env = {**env, "HOST": HOST, "PORT": str(self.port), "WEB_CONCURRENCY": "1"}
        with log_path.open("wb") as log:  # stdout and stderr (the access log): one file per run
            self.proc = subprocess.Popen(
                pinned(["sh", "-c", f"exec {command}"], cpu),
                cwd=ROOT,
                env=server_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - it only calls prctl
            )

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        """Until `path` answers 200; raises with the log's tail if the server exits or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited; log {self.log_path}:\n{self._tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if get(self.port, path)[0] == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} server not ready in {timeout:.0f}s; log {self.log_path}:\n{self._tail()}")

    def stop(self) -> None:
        """SIGTERM to the process group we started (Granian drains), SIGKILL after 15 s."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def _tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


class CpuShare:
    """`with CpuShare(server_pid, service_pids) as cpu:` who used the cores during the block, in % of one core.

    `other_pct` is what neither the server, PostgreSQL/Valkey (`service_pids`) nor wrk (a child that
    ends inside the block) used, kernel network work included: high values mean a noisy machine.
    """

    def __init__(self, server_pid: int, service_pids: Iterable[int]) -> None:
        self.server_pid = server_pid
        self.service_pids = tuple(service_pids)
        self.percentages: dict[str, float] = {}

    def _sample(self) -> tuple[float, dict[str, float], list[float]]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = {
            "server_pct": _tree_cpu_seconds(self.server_pid),
            "services_pct": sum(_tree_cpu_seconds(pid) for pid in self.service_pids),
            "wrk_pct": children.ru_utime + children.ru_stime,
        }
        return time.monotonic(), used, _busy_seconds()

    def __enter__(self) -> Self:
        self._start = self._sample()
        return self

    def __exit__(self, *exc_info: object) -> None:
        (started, used_before, busy_before), (ended, used_after, busy_after) = self._start, self._sample()
        wall = ended - started
        figures = {name: (used_after[name] - used_before[name]) / wall * 100 for name in used_before}
        cores = [(b - a) / wall * 100 for a, b in zip(busy_before, busy_after, strict=True)]
        figures["other_pct"] = max(sum(cores) - sum(figures.values()), 0.0)
        figures |= {f"core{i}_busy_pct": busy for i, busy in enumerate(cores)}
        self.percentages = {name: round(value, 1) for name, value in figures.items()}


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by `pid` and its descendants."""
    total = 0.0
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        for proc in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
    return total


def _busy_seconds() -> list[float]:
    return [t.user + t.nice + t.system + t.irq + t.softirq + t.steal for t in psutil.cpu_times(percpu=True)]


def get(port: int, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, raw body bytes, not decoded) of one GET on loopback."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def portfolio_body_size(port: int, users: range, headers: Mapping[str, str]) -> int | None:
    """The median size of real portfolio bodies (identity encoding) over `users`; None if none answer 200."""
    sizes = sorted(len(body) for status, _, body in (get(port, f"/api/user/{u}/portfolio", headers) for u in users)
                   if status == 200)  # fmt: skip
    return sizes[len(sizes) // 2] if sizes else None
