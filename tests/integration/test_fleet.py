"""The fleet view across real processes: two web processes (Granian workers) and a Dramatiq worker
publish heartbeats to Valkey; `/api/ops/scaling` lists them, and a stopped process drops out."""

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.processes import WebProcess, WorkerProcess

pytestmark = pytest.mark.integration
FAST_HEARTBEAT = {"FLEET_HEARTBEAT_S": "0.2", "FLEET_HEARTBEAT_TTL_S": "1"}
Scaling = dict[str, Any]


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    """Instance ids of this module's own, so other processes of the session never confuse it."""
    run = uuid.uuid4().hex[:6]
    return {"a": f"fleet-a-{run}", "b": f"fleet-b-{run}", "w": f"fleet-w-{run}"}


@pytest.fixture(scope="module")
def fleet(process_env, servers, names) -> Iterator[dict[str, Any]]:
    env = {**process_env, **FAST_HEARTBEAT}
    logs = servers.data_dir / "fleet-logs"
    logs.mkdir(parents=True, exist_ok=True)
    a = WebProcess({**env, "INSTANCE_ID": names["a"]}, workers=2, log_path=logs / "web-a.log")
    b = WebProcess({**env, "INSTANCE_ID": names["b"]}, workers=1, log_path=logs / "web-b.log")
    worker = WorkerProcess({**env, "INSTANCE_ID": names["w"]}, log_path=logs / "worker.log")
    try:
        a.wait_ready()
        b.wait_ready()
        worker.wait_ready()
        yield {"a": a, "b": b, "worker": worker}
    finally:
        for proc in (a, b, worker):
            proc.stop()


def instances(body: Scaling, process: str) -> dict[str, int]:
    """Instance id -> number of live processes, for the given process type."""
    return {i["instance"]: len(i["processes"]) for i in body[process]["instances"]}


def poll(url: str, headers: dict[str, str], until: Callable[[Scaling], bool], timeout: float = 20.0) -> Scaling:
    deadline = time.monotonic() + timeout
    body: Scaling = {}
    while time.monotonic() < deadline:
        r = httpx.get(f"{url}/api/ops/scaling", headers=headers, timeout=5)
        assert r.status_code == 200, r.text
        body = r.json()
        if until(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"fleet view never got there; last: {body}")


def test_the_fleet_view_lists_every_process_and_drops_a_stopped_one(fleet, names, operator_headers):
    url = fleet["a"].url

    def all_up(body: Scaling) -> bool:
        web, workers = instances(body, "web"), instances(body, "worker")
        return web.get(names["a"]) == 2 and web.get(names["b"]) == 1 and workers.get(names["w"], 0) >= 1

    body = poll(url, operator_headers, all_up)
    web = body["web"]
    assert web["live_instances"] >= 2
    assert web["live_processes"] >= 3
    assert 0 <= web["latest"]["cpu"] <= 100
    assert isinstance(web["desired"], int)
    assert web["direction"] in {"out", "in", "hold"}
    assert web["reason"]
    worker = body["worker"]
    assert isinstance(worker["desired"], int)
    assert {"backlog", "queue_age_s"} <= worker["latest"].keys()
    # Every process answers with the same stored decision.
    other = httpx.get(f"{fleet['b'].url}/api/ops/scaling", headers=operator_headers, timeout=5).json()
    assert other["web"]["decided_at"] is not None

    fleet["b"].stop()
    body = poll(url, operator_headers, lambda body: names["b"] not in instances(body, "web"))
    assert instances(body, "web")[names["a"]] == 2

    fleet["worker"].stop()
    body = poll(url, operator_headers, lambda body: names["w"] not in instances(body, "worker"))


async def test_the_fleet_view_is_for_operators_and_documented(client, auth_headers):
    # In process, not against the processes above: anonymous requests count against the caller's
    # address in the shared rate-limit store, and the rate-limit tests start from 127.0.0.1 too.
    r = await client.get("/api/ops/scaling")
    assert r.status_code == 200
    assert set(r.json()) == {"web", "worker"}
    assert (await client.get("/api/ops/scaling", headers={"Authorization": "Bearer not-a-token"})).status_code == 401
    r = await client.get("/api/ops/scaling", headers=auth_headers(3))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    spec = (await client.get("/docs/openapi.json")).json()
    operation = spec["paths"]["/api/ops/scaling"]["get"]
    assert operation["operationId"] == "getScaling"
    assert {"200", "401", "403", "503"} <= operation["responses"].keys()
