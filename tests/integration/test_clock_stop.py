"""The clock stops within the stop timeout the deployment targets give it, even in the middle of a send.

ECS (stopTimeout) and Kubernetes (terminationGracePeriodSeconds) kill a process that outlives its stop
timeout, and a deployment of the clock starts the new one only once the old one is gone; `python -m cli
deploy` gives the clock `stop_seconds("clock", ...)` plus a margin. Here the clock runs the very command
the generated files run, and its catch-up send hangs on a key-value server that accepts and never answers:
the longest a stop can take.
"""

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cli.deploy.procfile import read_procfile, shell_argv, stop_seconds
from cli.embedded import EmbeddedServers
from cli.embedded.processes import spawn, stop_process
from domain.adapters.postgres.migrate import apply_migrations
from domain.models.market_day import DAILY_JOBS, latest_due_day, parse_close_time
from tests.processes import BIN, ROOT

pytestmark = pytest.mark.integration


class SilentServer:
    """Accepts connections and reads what arrives, never answering: a key-value server that hangs."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.received = threading.Event()
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        try:
            while connection.recv(4096):
                self.received.set()
        except OSError:
            return

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for connection in self._connections:
            connection.close()


@pytest.fixture
def owing_database(servers: EmbeddedServers) -> Iterator[str]:
    """A migrated database of its own whose daily jobs last ran three days ago: a starting clock owes days."""
    name = f"folio_clock_stop_{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = servers.database_url.rsplit("/", 1)[0] + "/" + name
    apply_migrations(url)
    yield url
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(drop)


def test_a_clock_stuck_in_a_send_stops_within_the_stop_timeout_of_the_deployment_targets(
    owing_database: str, process_env: dict[str, str], servers: EmbeddedServers
) -> None:
    command = read_procfile(ROOT / "Procfile")["clock"]
    stop_s = stop_seconds("clock", command)
    assert stop_s is not None
    close_utc = (datetime.now(UTC) + timedelta(hours=12)).strftime("%H:%M")  # the scheduled close cannot fire
    stopped = latest_due_day(datetime.now(UTC), parse_close_time(close_utc)) - timedelta(days=3)
    with psycopg.connect(owing_database, autocommit=True) as conn:
        for job in DAILY_JOBS:
            conn.execute("INSERT INTO job_runs (job, day, outcome) VALUES (%s, %s, 0)", (job, stopped))
    silent = SilentServer()
    env = {
        **os.environ,
        **process_env,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # the image's `python` is the suite's
        "DATABASE_URL": owing_database,
        "VALKEY_URL": f"redis://127.0.0.1:{silent.port}/0",
        "MARKET_CLOSE_UTC": close_utc,
    }
    log = servers.data_dir / "clock-stop.log"
    clock = spawn(shell_argv(command), log, cwd=ROOT, death_signal=signal.SIGTERM, env=env)
    try:
        assert silent.received.wait(60), f"the catch-up never sent: {_tail(log)}"
        started = time.monotonic()
        clock.send_signal(signal.SIGTERM)  # `exec` in the shell: this is the clock itself
        assert clock.wait(stop_s) == 0, _tail(log)  # TimeoutExpired: the platform would have killed it
        assert time.monotonic() - started < stop_s
    finally:
        stop_process(clock, signal.SIGKILL, 5)
        silent.close()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"
