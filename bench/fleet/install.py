"""What the rehearsal needs from the machine: root for namespaces, and Debian's HAProxy (installed when root)."""

import os
import shutil
import subprocess
from pathlib import Path

from bench.fleet.net import namespaces_possible

APT_TIMEOUT_S = 600
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def install_haproxy() -> str | None:
    """apt-get install haproxy (waiting for the dpkg lock, its service not started); why not, or None."""
    if shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "HAProxy is not installed and this is not root with apt-get: apt-get install haproxy"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [
        "apt-get",
        "-q",
        "-o",
        f"DPkg::Lock::Timeout={APT_TIMEOUT_S}",
        "install",
        "-y",
        "--no-install-recommends",
    ]
    own_policy = not POLICY_RC_D.exists()
    if own_policy:  # the package's postinst must not start the system's HAProxy (the Docker idiom)
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        print("Installing HAProxy: apt-get install haproxy ...", flush=True)
        done = subprocess.run([*install, "haproxy"], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:  # a fresh machine has no package lists yet
            subprocess.run(["apt-get", "-q", "update"], env=env, capture_output=True, check=False)
            done = subprocess.run([*install, "haproxy"], env=env, capture_output=True, text=True, check=False)
    finally:
        if own_policy:
            POLICY_RC_D.unlink(missing_ok=True)
    if done.returncode != 0:
        return f"apt-get install haproxy failed: {done.stderr.strip()[-500:]}"
    return None


def unavailable_reason() -> str | None:
    """Why the rehearsal cannot run here (not root, no namespaces, no HAProxy), or None."""
    return namespaces_possible() or install_haproxy()
