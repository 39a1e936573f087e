"""Debian's PgBouncer for the tests that run Folio through a transaction-mode pooler.

The process itself is `cli.embedded.pgbouncer.PgBouncer` (the connection-count figure runs it too). When the package
is missing, the set-up installs it where it may (root with apt-get, waiting for the dpkg lock, without starting the
system's service); elsewhere the tests skip, saying why, and fail under CI.
"""

from cli.embedded.debian import install_package
from cli.embedded.pgbouncer import pgbouncer_binary

DEB_PACKAGE = "pgbouncer"


def install_pgbouncer() -> str | None:
    """Install Debian's package (waiting for the dpkg lock) without starting its service; why not, or None."""
    if pgbouncer_binary() is not None:
        return None
    return install_package(DEB_PACKAGE)
