"""A RabbitMQ node the test suite owns: Debian's rabbitmq-server on its own node name, ports and data directory.

It runs beside its own `epmd` (Erlang's port mapper, on a port of its own), both started and stopped by PID, so
nothing outlives the session and no system-wide daemon is touched. When the package is missing, the set-up
installs it where it may (root with apt-get, without starting the system's service); elsewhere the tests skip.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pika

from cli.embedded import free_port
from cli.embedded.debian import install_package
from cli.embedded.processes import log_tail, spawn

DEB_PACKAGE = "rabbitmq-server"
SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # the foreground script (the /usr/sbin one switches user)
START_TIMEOUT_S = 120.0  # a cold Erlang VM on a busy 2-core machine takes 15-30 s


def install_rabbitmq() -> str | None:
    """Install Debian's package (waiting for the dpkg lock) without starting its service; why not, or None."""
    if SERVER.exists():
        return None
    return install_package(DEB_PACKAGE)


class RabbitMQServer:
    """One node; `stop()` and `start()` again keep its data (durable queues and persistent messages)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.log_path = data_dir / "rabbitmq.log"
        epmd_port = free_port()
        (data_dir / "enabled_plugins").write_text("[].\n")
        (data_dir / "rabbitmq.conf").write_text("")
        self._env = {
            **os.environ,
            "HOME": str(data_dir),  # the Erlang cookie goes here, not in the user's home
            "RABBITMQ_NODENAME": f"folio-test-{os.getpid()}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "ERL_EPMD_PORT": str(epmd_port),
            "RABBITMQ_MNESIA_BASE": str(data_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(data_dir / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_CONFIG_FILE": str(data_dir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(data_dir / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(data_dir / "plugins-expand"),
        }
        epmd = shutil.which("epmd") or "epmd"
        self._epmd = spawn(
            [epmd, "-port", str(epmd_port)], data_dir / "epmd.log", cwd=data_dir, death_signal=signal.SIGTERM
        )
        self._proc: subprocess.Popen[bytes] | None = None
        # Listening before the node looks for it: else the node starts a daemon of its own, which no one stops.
        self._wait_for(epmd_port, self._epmd)

    def _wait_for(self, port: int, proc: "subprocess.Popen[bytes]") -> None:
        deadline = time.monotonic() + 10
        while not self._accepts(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"epmd did not listen on {port}")
            time.sleep(0.05)

    def start(self) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._proc = spawn([str(SERVER)], self.log_path, cwd=self.data_dir, death_signal=signal.SIGTERM, env=self._env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited; log:\n{log_tail(self.log_path, offset)}")
            if "Server startup complete" in log_tail(self.log_path, offset, lines=200) and self._accepts(self.port):
                return
            time.sleep(0.2)
        raise RuntimeError(f"rabbitmq-server not ready in {START_TIMEOUT_S} s; log:\n{log_tail(self.log_path, offset)}")

    @staticmethod
    def _accepts(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM (the script stops the node cleanly, flushing its queues to disk), SIGKILL after 30 s."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def depth(self, queue: str) -> int:
        """Messages ready on `queue` (a passive declare: the queue must exist)."""
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            declared = connection.channel().queue_declare(queue, passive=True)
            return int(declared.method.message_count)
        finally:
            connection.close()

    def close(self) -> None:
        self.stop()
        if self._epmd.poll() is None:
            self._epmd.terminate()
            self._epmd.wait(5)
