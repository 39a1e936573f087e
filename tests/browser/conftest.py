"""A real browser for the console's tests: Debian's `chromium`, driven by Playwright through `executable_path`
(Playwright may not download a browser of its own here). Installed once where the suite may (root, apt-get, as
CI runs); elsewhere the tests skip saying why, except under `CI`, where a missing browser is a failure."""

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from playwright.async_api import Browser, async_playwright

from cli.embedded import EmbeddedServers
from cli.embedded.debian import install_package
from tests.processes import ROOT, WebProcess, WorkerProcess, web_processes, worker_process

DEB_PACKAGE = "chromium"
OUTPUT = ROOT / ".data" / "test-output" / "console"  # screenshots, kept after the run (git ignores .data/)
# Reports give up fast and are swept often: a requeued report is picked up within a second.
FAST_REPORTS = {"REPORT_SWEEP_INTERVAL_S": "0.3", "REPORT_MIN_BACKOFF_MS": "100", "REPORT_MAX_BACKOFF_MS": "300"}
SLOW_AT_1_MS = {"SLOW_REQUEST_MS": "1"}  # so the Traffic panel lists slow requests the tests send


def unavailable(reason: str) -> NoReturn:
    message = f"no chromium for the console's browser tests: {reason}; install it: apt-get install chromium"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def install_chromium() -> str | None:
    """Install Debian's package quietly; the reason it could not, or None."""
    return install_package(DEB_PACKAGE)


@pytest.fixture(scope="session")
def chromium() -> Path:
    found = shutil.which("chromium")
    if found is None:
        problem = install_chromium()
        found = shutil.which("chromium")
        if found is None:
            unavailable(problem or "its package installed no such command")
    return Path(found)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="module")
def console_env(process_env: dict[str, str]) -> dict[str, str]:
    return {**process_env, **FAST_REPORTS, **SLOW_AT_1_MS}


@pytest.fixture(scope="module")
def console_web(console_env: dict[str, str], servers: EmbeddedServers) -> Iterator[WebProcess]:
    """One real web process (granian, two workers as in production) serving the console."""
    log_dir = servers.data_dir / "console-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with web_processes(console_env, 1, log_dir) as (web,):
        yield web


@pytest.fixture(scope="module")
def console_worker(console_env: dict[str, str], servers: EmbeddedServers) -> Iterator[WorkerProcess]:
    with worker_process(console_env, servers.data_dir / "console-logs" / "worker.log") as worker:
        yield worker


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        # --no-sandbox: Chromium's sandbox needs user namespaces, which a root shell in a container may not have.
        launched = await p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        yield launched
        await launched.close()
