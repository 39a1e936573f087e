"""The access log as an operator reads it: one JSON line per request on a real Granian process's output."""

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cli.embedded import EmbeddedServers
from tests.conftest import HeadersFactory
from tests.processes import WebProcess

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def web(process_env: dict[str, str], servers: EmbeddedServers) -> Iterator[WebProcess]:
    log_dir = servers.data_dir / "access-log"
    log_dir.mkdir(parents=True, exist_ok=True)
    proc = WebProcess({**process_env, "ACCESS_LOG": "true", "LOG_LEVEL": "INFO"}, log_path=log_dir / "web.log")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def access_lines(web: WebProcess) -> list[dict[str, Any]]:
    lines = []
    for line in web.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == "folio.access":
                lines.append(record)
    return lines


def logged_after(web: WebProcess, responses: list[httpx.Response]) -> list[dict[str, Any]]:
    """The access lines once every response's line is out: a last request fences the ones before it.

    The log is written in request order by one thread, so once the fence's line is there, every
    earlier request's lines are too, and a duplicate would be as well.
    """
    fence = httpx.get(f"{web.url}/health/live", headers={"X-Request-ID": f"fence-{uuid.uuid4().hex}"}, timeout=5)
    fence_id = fence.headers["X-Request-ID"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = access_lines(web)
        if any(line["request_id"] == fence_id for line in lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no access line for {fence_id}; log tail:\n{web.log_path.read_text()[-2000:]}")


def test_each_request_is_one_json_line_with_the_request_id_of_its_response(
    web: WebProcess, auth_headers: HeadersFactory
) -> None:
    own_id = f"access-log-{uuid.uuid4().hex}"
    responses = [
        httpx.get(f"{web.url}/health/live", headers={"X-Request-ID": own_id}, timeout=5),
        httpx.get(f"{web.url}/api/user/3/portfolio", headers=auth_headers(3), timeout=5),
        httpx.get(f"{web.url}/api/user/3/portfolio", headers=auth_headers(3), timeout=5),  # the fast lane's hit
        httpx.get(f"{web.url}/api/market-data/NO-SUCH-SYMBOL", headers=auth_headers(3), timeout=5),
        httpx.post(f"{web.url}/api/user/3/trades", headers=auth_headers(4), json={}, timeout=5),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 403]
    assert responses[0].headers["X-Request-ID"] == own_id
    lines = logged_after(web, responses)

    for response in responses:
        request_id = response.headers["X-Request-ID"]
        mine = [line for line in lines if line["request_id"] == request_id]
        assert len(mine) == 1, (request_id, mine)
        line = mine[0]
        assert line["method"] == response.request.method
        assert line["path"] == response.request.url.path
        assert line["status"] == response.status_code
        assert line["level"] == "INFO"
        assert line["msg"] == "request"
        assert isinstance(line["duration_ms"], float)
        # X-Process-Time is taken when the headers go out, the log's duration once the body has gone.
        assert float(response.headers["X-Process-Time"]) * 1000 - 0.01 <= line["duration_ms"] < 10_000
        assert line["ts"].endswith("Z")
