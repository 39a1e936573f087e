"""Prometheus's own tools for the deploy/ tests: found on PATH, else installed once where allowed.

Debian's `prometheus` package holds both `promtool` and `prometheus`. CI (root, apt-get) installs
it here, without recommends and without starting its service; elsewhere the tests skip, saying so,
except under `CI`, where a missing tool is a failure (convention 13: skip locally, fail in CI).
"""

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from cli.embedded.debian import install_package

DEB_PACKAGE = "prometheus"


def install_prometheus() -> str | None:
    """Install Debian's package quietly; the reason it could not, or None."""
    return install_package(DEB_PACKAGE)


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
