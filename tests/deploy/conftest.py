"""Prometheus's own tools for the deploy/ tests: found on PATH, else installed once where allowed.

Debian's `prometheus` package holds both `promtool` and `prometheus`. CI (root, apt-get) installs
it here, without recommends and without starting its service; elsewhere the tests skip, saying so,
except under `CI`, where a missing tool is a failure (convention 13: skip locally, fail in CI).
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

DEB_PACKAGE = "prometheus"
APT_TIMEOUT_S = 300
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


@contextmanager
def services_not_started() -> Iterator[None]:
    """While installing, tell the package's postinst not to start its daemon (the Docker idiom)."""
    if POLICY_RC_D.exists():  # an image's own policy (Docker's denies every start) stays as it is
        yield
        return
    POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "-q", *args], env=APT_ENV, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
    )


def install_prometheus() -> str | None:
    """Install Debian's package quietly; the reason it could not, or None."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "not root with apt-get, so the test set-up cannot install it"
    install = ("install", "-y", "--no-install-recommends", DEB_PACKAGE)
    try:
        with services_not_started():
            done = apt_get(*install)
            if done.returncode != 0:  # a fresh machine has no package lists yet
                apt_get("update")
                done = apt_get(*install)
    except subprocess.TimeoutExpired:
        return f"apt-get took more than {APT_TIMEOUT_S} s"
    if done.returncode != 0:
        return f"apt-get install {DEB_PACKAGE} failed: {done.stderr.strip()[-500:]}"
    return None


def unavailable(tool: str, reason: str) -> NoReturn:
    message = f"{tool} is not on PATH and {reason}; install Debian's package: apt-get install {DEB_PACKAGE}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def prometheus_install() -> str | None:
    """Once a session: None when promtool and prometheus are on PATH (installing them if allowed)."""
    if shutil.which("promtool") and shutil.which("prometheus"):
        return None
    return install_prometheus()


def prometheus_tool(tool: str, install_problem: str | None) -> Path:
    path = shutil.which(tool)
    if path is None:
        unavailable(tool, install_problem or "its package installed no such command")
    return Path(path)


@pytest.fixture(scope="session")
def promtool(prometheus_install: str | None) -> Path:
    return prometheus_tool("promtool", prometheus_install)


@pytest.fixture(scope="session")
def prometheus_binary(prometheus_install: str | None) -> Path:
    return prometheus_tool("prometheus", prometheus_install)
