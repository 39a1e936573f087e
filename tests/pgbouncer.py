"""Debian's PgBouncer for the tests that run Folio through a transaction-mode pooler.

The process itself is `cli.embedded.pgbouncer.PgBouncer` (the connection-count figure runs it too). When the package
is missing, the set-up installs it where it may (root with apt-get, waiting for the dpkg lock, without starting the
system's service); elsewhere the tests skip, saying why, and fail under CI.
"""

import os
import shutil
import subprocess
from pathlib import Path

from cli.embedded.pgbouncer import pgbouncer_binary

DEB_PACKAGE = "pgbouncer"
APT_TIMEOUT_S = 600
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def install_pgbouncer() -> str | None:
    """Install Debian's package (waiting for the dpkg lock) without starting its service; why not, or None."""
    if pgbouncer_binary() is not None:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "not root with apt-get, so the test set-up cannot install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = f"DPkg::Lock::Timeout={APT_TIMEOUT_S}"  # other installs may be running: wait for the lock
    install = ["apt-get", "-q", "-o", lock, "install", "-y", "--no-install-recommends", DEB_PACKAGE]
    own_policy = not POLICY_RC_D.exists()
    if own_policy:  # tell the package's postinst not to start the system's PgBouncer (the Docker idiom)
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:  # a fresh machine has no package lists yet
            subprocess.run(["apt-get", "-q", "update"], env=env, capture_output=True, check=False)
            done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    finally:
        if own_policy:
            POLICY_RC_D.unlink(missing_ok=True)
    if done.returncode != 0:
        return f"apt-get install {DEB_PACKAGE} failed: {done.stderr.strip()[-500:]}"
    return None
