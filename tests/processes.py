"""Real Folio processes for tests that cross process boundaries (granian web, dramatiq worker)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from cli.embedded import free_port
from cli.embedded.processes import spawn

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class WebProcess:
    """One `granian` serving the app factory on a free port, as the Procfile's web line does."""

    def __init__(
        self, env: Mapping[str, str], *, workers: int = 1, log_path: Path, prefix: tuple[str, ...] = ()
    ) -> None:
        """`prefix` runs the server under another command, as the Procfile's `python -m cli.web` does."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        args = [
            *prefix, str(BIN / "granian"), "--interface", "asgi", "--factory", "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(workers), "--workers-kill-timeout", "5",
            "gateway.app:create_app",
        ]  # fmt: skip
        # Dies with the test session even when pytest is killed before its fixtures tear down.
        self.proc = spawn(args, log_path, cwd=ROOT, death_signal=signal.SIGTERM, env={**os.environ, **env})

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web process exited; log:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"web process not ready in {timeout}s; log:\n{self.log_path.read_text()[-3000:]}")

    def report_errors(self) -> None:
        """Print the log's error lines (pytest shows them with a failing test: a 500's traceback is there)."""
        with self.log_path.open("rb") as f:
            errors = [line for line in f.read().decode(errors="replace").splitlines() if '"level":"ERROR"' in line]
        if errors:
            print(f"{self.log_path.name}: {len(errors)} error line(s)", *errors[-5:], sep="\n", file=sys.stderr)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@contextmanager
def web_processes(env: Mapping[str, str], count: int, log_dir: Path) -> Iterator[list[WebProcess]]:
    """Start `count` independent web processes (each its own pools and in-process state)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = [WebProcess(env, log_path=log_dir / f"web-{i}.log") for i in range(count)]
    try:
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.stop()
            proc.report_errors()


class WorkerProcess:
    """One `dramatiq tasks.broker:setup tasks.actors`, as the Procfile's worker line runs it."""

    def __init__(self, env: Mapping[str, str], *, log_path: Path, processes: int = 1, threads: int = 2) -> None:
        self.log_path = log_path
        self._offset = log_path.stat().st_size if log_path.exists() else 0
        args = [
            str(BIN / "dramatiq"), "tasks.broker:setup", "tasks.actors",
            "--processes", str(processes), "--threads", str(threads), "--worker-shutdown-timeout", "5000",
        ]  # fmt: skip
        # INFO: Dramatiq says "ready for action" once every worker process has booted.
        full_env = {**os.environ, **env, "LOG_LEVEL": "INFO"}
        self.proc = spawn(args, log_path, cwd=ROOT, death_signal=signal.SIGTERM, env=full_env)

    def log(self) -> str:
        with self.log_path.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace")

    def wait_ready(self, processes: int = 1, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited; log:\n{self.log()[-3000:]}")
            if self.log().count("ready for action") >= processes:
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready in {timeout}s; log:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process and its worker processes, mid-task."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def worker_process(env: Mapping[str, str], log_path: Path, **kwargs: int) -> Iterator[WorkerProcess]:
    """A ready worker process, stopped (SIGTERM, then SIGKILL) on the way out."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    worker = WorkerProcess(env, log_path=log_path, **kwargs)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()
