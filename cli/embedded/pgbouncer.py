"""Debian's PgBouncer in transaction pooling mode, run as our own child process in front of a PostgreSQL.

For the tests and the connection-count figure only: it listens on a free port on 127.0.0.1, keeps its
config, auth file, log and pid file under one folder, and is stopped by PID. As root it runs as an
unprivileged system user (PgBouncer refuses to run as root).
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from cli.embedded.processes import HOST, EmbeddedServerError, free_port, log_tail, spawn, stop_process

BINARY = "pgbouncer"
RUN_AS = ("postgres", "nobody")  # Debian's package creates `postgres`; `nobody` exists everywhere


def pgbouncer_binary() -> str | None:
    """PgBouncer's path (Debian installs it in /usr/sbin, which a user's PATH may lack), or None."""
    return shutil.which(BINARY) or shutil.which(BINARY, path="/usr/sbin:/usr/local/sbin")


class PgBouncer:
    """One PgBouncer, `pool_mode = transaction`, forwarding every database name to `database_url`'s server.

    `pool_size` bounds the server connections per (database, user) pair: that is what PostgreSQL sees,
    however many clients connect here.
    """

    def __init__(self, database_url: str, base: Path, *, pool_size: int = 10, max_clients: int = 2000) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise EmbeddedServerError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
        self._binary = binary
        self.base = base.resolve()
        self.base.mkdir(parents=True, exist_ok=True)
        self.log_path = self.base / "pgbouncer.log"
        self.port = 0
        self._server = urlsplit(database_url)
        self._pool_size = pool_size
        self._max_clients = max_clients
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def url(self, database: str | None = None) -> str:
        """The server URL, pointed at PgBouncer instead (same user, password and database)."""
        user = self._server.username or "postgres"
        password = f":{self._server.password}" if self._server.password else ""
        name = database or self._server.path.lstrip("/") or "postgres"
        query = f"?{self._server.query}" if self._server.query else ""
        return f"postgresql://{user}{password}@{HOST}:{self.port}/{name}{query}"

    def start(self, timeout: float = 30.0) -> None:
        self.port = free_port()
        config = self._write_config()
        owner = self._run_as()
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        kwargs = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []} if owner else {}
        self._proc = spawn(
            [self._binary, str(config)], self.log_path, cwd=self.base, death_signal=signal.SIGTERM, **kwargs
        )
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmbeddedServerError(f"pgbouncer did not start; log:\n{log_tail(self.log_path, offset)}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGINT: PgBouncer's "safe shutdown" waits for transactions in flight; SIGKILL after 10 s."""
        stop_process(self._proc, signal.SIGINT, 10)
        self._proc = None

    def _accepts(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=1):
            return True
        return False

    def _run_as(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        for name in RUN_AS:
            with contextlib.suppress(KeyError):
                owner = pwd.getpwnam(name)
                os.chown(self.base, owner.pw_uid, owner.pw_gid)
                with contextlib.suppress(FileNotFoundError):
                    os.chown(self.log_path, owner.pw_uid, owner.pw_gid)
                return owner
        raise EmbeddedServerError(f"pgbouncer refuses to run as root and none of the users {RUN_AS} exists")

    def _write_config(self) -> Path:
        server = self._server
        user = server.username or "postgres"
        password = (server.password or "").replace('"', '""')
        (self.base / "userlist.txt").write_text(f'"{user}" "{password}"\n')
        # Every database name goes to the same server, logging in as the client's own user and password.
        target = f"host={server.hostname or HOST} port={server.port or 5432}"
        lines = [
            "[databases]",
            f"* = {target}",
            "[pgbouncer]",
            f"listen_addr = {HOST}",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            f"auth_file = {self.base / 'userlist.txt'}",
            f"auth_type = {'plain' if password else 'trust'}",
            "pool_mode = transaction",
            f"default_pool_size = {self._pool_size}",
            f"max_client_conn = {self._max_clients}",
            f"pidfile = {self.base / 'pgbouncer.pid'}",
            "admin_users = " + user,
            "server_reset_query =",  # transaction mode: nothing of a client's session may outlive its transaction
            "log_connections = 0",
            "log_disconnections = 0",
        ]
        path = self.base / "pgbouncer.ini"
        path.write_text("\n".join(lines) + "\n")
        return path
