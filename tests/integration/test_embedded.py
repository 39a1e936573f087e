"""The embedded servers behind `make run` and the test suite: they start, answer, restart, and stop."""

import smtplib
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import psutil
import psycopg
import pytest
import valkey

from cli.embedded import EmbeddedServers, start_embedded

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServers]:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = start_embedded({}, tmp_path_factory.mktemp("embedded"), fast=True)
    try:
        yield started
    finally:
        started.close()
    new = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    # A process that is exiting may still be listed for a moment; one that is left behind stays.
    _gone, left = psutil.wait_procs(new, timeout=5)
    assert left == [], f"processes left behind by close(): {[(p, _command(p)) for p in left]}"


def _command(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return "?"


def test_postgres_answers_sql(servers: EmbeddedServers) -> None:
    assert servers.database_url.startswith("postgresql://postgres@127.0.0.1:")
    assert servers.database_url.endswith("/folio")
    with psycopg.connect(servers.database_url, connect_timeout=5) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        assert conn.execute("show fsync").fetchone() == ("off",)


def test_valkey_restarts_on_the_same_port(servers: EmbeddedServers) -> None:
    assert servers.valkey is not None
    client = valkey.Valkey.from_url(servers.valkey_url, socket_timeout=2, socket_connect_timeout=2)
    assert client.ping()
    port, pid = servers.valkey.port, servers.valkey.pid
    servers.valkey.stop()
    assert servers.valkey.pid is None
    with pytest.raises(valkey.ConnectionError):
        client.ping()
    servers.valkey.start()
    assert servers.valkey.port == port
    assert servers.valkey.pid not in (None, pid)
    assert client.ping()
    client.close()


def test_smtp_message_lands_in_the_mail_folder(servers: EmbeddedServers) -> None:
    assert servers.smtp is not None
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "folio@example.com", "ada@example.com", "Report ready"
    message.set_content("Your report is attached.")
    with smtplib.SMTP("127.0.0.1", servers.smtp.port, timeout=5) as client:
        client.send_message(message)
    (stored,) = servers.smtp.wait_for_messages(1, timeout=5)
    assert stored.parent == servers.smtp.mail_dir
    text = stored.read_text()
    assert "Subject: Report ready" in text
    assert "X-RcptTo: ada@example.com" in text


def test_given_urls_are_kept_and_nothing_is_started(tmp_path: Path) -> None:
    given = {"DATABASE_URL": "postgresql://db/x", "VALKEY_URL": "redis://v:1/0", "SMTP_URL": "smtp://m:25"}
    with start_embedded(given, tmp_path) as servers:
        assert servers.env() == given
        assert (servers.postgres, servers.valkey, servers.smtp) == (None, None, None)
    assert not any(tmp_path.iterdir())


def test_ports_are_loopback_only(servers: EmbeddedServers) -> None:
    assert servers.postgres is not None
    for port in (servers.postgres.port, servers.valkey.port if servers.valkey else 0):
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        listening = [
            c for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.status == "LISTEN"
        ]
        assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
