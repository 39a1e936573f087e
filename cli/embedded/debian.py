"""Debian packages the tests and rehearsals run as processes of their own (RabbitMQ, PgBouncer, HAProxy, Chromium,
Prometheus): installed where this may install them (root with apt-get), without starting the system's service.

apt-get waits for the dpkg lock (another install may be running), and a fresh machine's missing package lists are
fetched once. While installing, a `policy-rc.d` that denies every start keeps the package's postinst from starting
its daemon (the Docker idiom); an image's own policy stays as it is.
"""

import os
import shutil
import subprocess
from pathlib import Path

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
APT_TIMEOUT_S = 600


def install_package(package: str, *, timeout_s: float = APT_TIMEOUT_S) -> str | None:
    """`apt-get install package`; the reason it could not be installed, or None."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "not root with apt-get, so it cannot be installed here"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "-q", "-o", f"DPkg::Lock::Timeout={int(timeout_s)}", "install", "-y",
               "--no-install-recommends", package]  # fmt: skip
    own_policy = not POLICY_RC_D.exists()
    if own_policy:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0:  # a fresh machine has no package lists yet
            subprocess.run(["apt-get", "-q", "update"], env=env, capture_output=True, timeout=timeout_s, check=False)
            done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return f"apt-get took more than {timeout_s:.0f} s"
    finally:
        if own_policy:
            POLICY_RC_D.unlink(missing_ok=True)
    if done.returncode != 0:
        return f"apt-get install {package} failed: {done.stderr.strip()[-500:]}"
    return None
