"""What the rehearsal needs from the machine: root for namespaces, and Debian's HAProxy (installed when root)."""

import shutil
from pathlib import Path

from bench.fleet.net import namespaces_possible
from cli.embedded.debian import install_package


def install_haproxy() -> str | None:
    """apt-get install haproxy (waiting for the dpkg lock, its service not started); why not, or None."""
    if shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists():
        return None
    print("Installing HAProxy: apt-get install haproxy ...", flush=True)
    problem = install_package("haproxy")
    return None if problem is None else f"HAProxy is not installed and {problem}: apt-get install haproxy"


def unavailable_reason() -> str | None:
    """Why the rehearsal cannot run here (not root, no namespaces, no HAProxy), or None."""
    return namespaces_possible() or install_haproxy()
