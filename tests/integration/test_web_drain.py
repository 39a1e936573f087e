"""The Procfile's web line (`python -m cli.web granian ...`): on SIGTERM, readiness turns 503 while requests are
still served for WEB_DRAIN_DELAY_S, so a load balancer takes the instance out before its listener closes."""

import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.embedded import EmbeddedServers
from tests.processes import WebProcess

pytestmark = pytest.mark.integration
WRAPPER = (sys.executable, "-m", "cli.web")
DELAY_S = 3.0


def start(process_env: dict[str, str], servers: EmbeddedServers, name: str, delay_s: float) -> WebProcess:
    env = {**process_env, "WEB_DRAIN_DELAY_S": str(delay_s)}
    web = WebProcess(env, log_path=servers.data_dir / f"{name}.log", prefix=WRAPPER)
    web.wait_ready()
    return web


def test_a_stopping_instance_answers_503_on_readiness_and_still_serves_until_the_delay_ends(
    process_env, servers, auth_headers
):
    web = start(process_env, servers, "web-drain", DELAY_S)
    try:
        os.killpg(web.proc.pid, signal.SIGTERM)  # as a platform stops a process group
        signalled = time.monotonic()
        ready = httpx.get(f"{web.url}/health/ready", timeout=2)
        while ready.status_code == 200 and time.monotonic() - signalled < 1:
            ready = httpx.get(f"{web.url}/health/ready", timeout=2)
        assert ready.status_code == 503
        assert ready.json()["detail"] == "not ready: this instance is stopping"
        assert ready.headers["retry-after"]
        served = httpx.get(f"{web.url}/api/user/1/portfolio", headers=auth_headers(1), timeout=2)
        assert served.status_code == 200  # out of rotation, still serving what the balancer sends meanwhile
        assert web.proc.wait(DELAY_S + 20) == 0
        assert time.monotonic() - signalled >= DELAY_S - 0.5  # it kept serving for the delay
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{web.url}/health/live", timeout=1)
    finally:
        web.stop()


def test_without_a_delay_the_web_line_is_the_server_itself(process_env, servers):
    web = start(process_env, servers, "web-exec", 0)
    try:
        command = Path(f"/proc/{web.proc.pid}/cmdline").read_bytes().split(b"\0")
        assert any(part.endswith(b"granian") for part in command)  # exec'd: no process in between
        assert b"cli.web" not in command
    finally:
        web.stop()
