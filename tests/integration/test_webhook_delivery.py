"""Webhooks end to end: the API writes events, real worker processes relay and POST them to a real receiver.

Each case counts what arrives at the receiver: exactly the expected deliveries, every one signed (checked with
the specification's own library), none lost, also when a worker is killed mid-delivery.
"""

import asyncio
import email
import email.policy
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from standardwebhooks.webhooks import Webhook

from cli.embedded import EmbeddedServers, SmtpSink
from config.settings import Settings
from gateway.app import create_app
from tests.conftest import with_settings
from tests.processes import WorkerProcess, worker_process
from tests.webhook_receiver import Answer, Receiver, receiver

pytestmark = [pytest.mark.integration]

# Compressed: three attempts 0.3 s apart, a 1 s timeout, a lease that runs out 3 s after a killed attempt began.
FAST = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_TIMEOUT_S": "1",
    "WEBHOOK_LEASE_S": "3",
    "WEBHOOK_RETRY_SCHEDULE_S": "0,0.3,0.3",
    "WEBHOOK_RETRY_JITTER": "0",
    "WEBHOOK_RELAY_INTERVAL_S": "0.1",
    "WEBHOOK_DISABLE_AFTER": "2",
}
QUIET_S = 1.5  # after the expected arrivals, nothing more may come within this (several retry periods)
Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture(scope="module")
async def web(settings: Settings, operator_headers: dict[str, str]) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(with_settings(settings, webhook_allow_private=True))) as c:
        c.headers["Authorization"] = operator_headers["Authorization"]
        yield c


@pytest.fixture
def worker_env(process_env: dict[str, str]) -> dict[str, str]:
    return {**process_env, **FAST}


@pytest.fixture
def log_dir(servers: EmbeddedServers) -> Path:
    return servers.data_dir / "webhook-worker-logs"


@pytest.fixture
def worker(worker_env: dict[str, str], log_dir: Path, request: pytest.FixtureRequest) -> Iterator[WorkerProcess]:
    with worker_process(worker_env, log_dir / f"{request.node.name}.log") as w:
        yield w


async def new_user(web: Client) -> dict:
    r = await web.post("/api/users", json={"email": f"hook-{uuid.uuid4().hex[:12]}@example.com", "name": "Hook"})
    assert r.status_code == 201, r.text
    return r.json()


async def register(web: Client, user_id: int, url: str, events: list[str] | None = None) -> dict:
    body = {"url": url, "events": events or ["user.updated"]}
    r = await web.post(f"/api/user/{user_id}/webhooks", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def rename(web: Client, user_id: int) -> None:
    r = await web.patch(f"/api/users/{user_id}", json={"name": f"Hook {uuid.uuid4().hex[:6]}"})
    assert r.status_code == 200, r.text


async def arrivals(hooks: Receiver, path: str, count: int, timeout: float = 20.0) -> list:
    return await asyncio.to_thread(hooks.wait_for, path, count, timeout)


async def quiet_then(hooks: Receiver, path: str) -> list:
    await asyncio.sleep(QUIET_S)
    return hooks.at(path)


async def deliveries(web: Client, user_id: int, endpoint_id: str) -> list[dict]:
    r = await web.get(f"/api/user/{user_id}/webhooks/{endpoint_id}/deliveries")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def settled(web: Client, user_id: int, endpoint_id: str, timeout: float = 10.0) -> list[dict]:
    """The deliveries once none is pending any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await deliveries(web, user_id, endpoint_id)
        if found and all(d["status"] != "pending" for d in found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"deliveries still pending: {found}")


def verified(secret: str, arrival) -> dict:
    return dict(Webhook(secret).verify(arrival.body, arrival.headers))


def emails_to(smtp: SmtpSink, address: str) -> list[email.message.EmailMessage]:
    found = []
    for path in smtp.messages():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["To"] == address:
            found.append(msg)
    return found  # type: ignore[return-value]


async def test_each_event_arrives_once_signed_and_a_refused_change_sends_nothing(web, worker, hooks):
    user = await new_user(web)
    path = f"/ok/{user['id']}"
    created = await register(web, user["id"], hooks.script(path), ["user.updated", "cash.moved", "trade.created"])
    deposit = {"type": "deposit", "amount": "100", "currency": "USD"}
    assert (await web.post(f"/api/user/{user['id']}/cash", json=deposit)).status_code == 201
    order = {"symbol": "XOM", "side": "buy", "quantity": "10", "price": "1"}
    assert (await web.post(f"/api/user/{user['id']}/trades", json=order)).status_code == 201
    refused = {**order, "side": "sell", "quantity": "1000"}  # more than held: nothing is written, nothing is sent
    assert (await web.post(f"/api/user/{user['id']}/trades", json=refused)).status_code == 422
    await rename(web, user["id"])
    got = await arrivals(hooks, path, 3)
    assert len(got) == 3
    events = [verified(created["secret"], a) for a in got]
    assert sorted(e["type"] for e in events) == ["cash.moved", "trade.created", "user.updated"]
    trade = next(e for e in events if e["type"] == "trade.created")["data"]
    assert (trade["symbol"], trade["side"], Decimal(trade["quantity"])) == ("XOM", "buy", Decimal(10))
    assert next(e for e in events if e["type"] == "user.updated")["data"]["changed"] == ["name"]
    assert len({a.headers["webhook-id"] for a in got}) == 3
    assert len(await quiet_then(hooks, path)) == 3
    done = await settled(web, user["id"], created["endpoint"]["id"])
    assert (
        sorted((d["status"], len(d["attempts"]), d["attempts"][0]["status_code"]) for d in done)
        == [("succeeded", 1, 200)] * 3
    )


async def test_a_500_is_retried_under_the_same_webhook_id_until_it_succeeds(web, worker, hooks):
    user = await new_user(web)
    path = f"/flaky/{user['id']}"
    created = await register(web, user["id"], hooks.script(path, Answer(status=500)))
    await rename(web, user["id"])
    got = await arrivals(hooks, path, 2)
    assert len(got) == 2
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    assert verified(created["secret"], got[0]) == verified(created["secret"], got[1])
    assert got[1].at - got[0].at >= 0.25  # the schedule's wait (0.3 s, no jitter here)
    assert len(await quiet_then(hooks, path)) == 2
    [delivery] = await settled(web, user["id"], created["endpoint"]["id"])
    assert delivery["id"] == got[0].headers["webhook-id"]
    assert delivery["status"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]


async def test_a_timeout_is_an_attempt_without_an_answer_and_is_retried(web, worker, hooks):
    user = await new_user(web)
    path = f"/slow/{user['id']}"
    created = await register(web, user["id"], hooks.script(path, Answer(delay_s=2.5)))
    await rename(web, user["id"])
    got = await arrivals(hooks, path, 2)
    assert len(got) == 2
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    [delivery] = await settled(web, user["id"], created["endpoint"]["id"])
    first, second = delivery["attempts"]
    assert (first["status_code"], second["status_code"]) == (None, 200)
    assert "no answer within 1.0s" in first["error"]
    assert 900 <= first["latency_ms"] < 2500  # cut off at the timeout, not when the receiver answered
    assert len(await quiet_then(hooks, path)) == 2


async def test_410_disables_the_endpoint_and_emails_its_user(web, worker, hooks, embedded_smtp):
    user = await new_user(web)
    path = f"/gone/{user['id']}"
    created = await register(web, user["id"], hooks.script(path, Answer(status=410)))
    await rename(web, user["id"])
    assert len(await arrivals(hooks, path, 1)) == 1
    [delivery] = await settled(web, user["id"], created["endpoint"]["id"])
    assert (delivery["status"], [a["status_code"] for a in delivery["attempts"]]) == ("dead", [410])
    endpoint = (await web.get(f"/api/user/{user['id']}/webhooks/{created['endpoint']['id']}")).json()
    assert (endpoint["enabled"], endpoint["disabled_reason"]) == (False, "the receiver answered 410 Gone")
    await rename(web, user["id"])  # a disabled endpoint receives nothing
    assert len(await quiet_then(hooks, path)) == 1
    mails = await asyncio.to_thread(wait_for_email, embedded_smtp, user["email"])
    assert len(mails) == 1
    assert path in mails[0].get_body(preferencelist=("plain",)).get_content()


def wait_for_email(smtp: SmtpSink, address: str, timeout: float = 10.0) -> list[email.message.EmailMessage]:
    deadline = time.monotonic() + timeout
    while not (found := emails_to(smtp, address)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


async def test_dead_deliveries_are_listed_disable_the_endpoint_and_can_be_redelivered(web, worker, hooks):
    user = await new_user(web)
    path = f"/down/{user['id']}"
    created = await register(web, user["id"], hooks.script(path, *[Answer(status=500)] * 6))
    endpoint_id = created["endpoint"]["id"]
    await rename(web, user["id"])
    await rename(web, user["id"])
    assert len(await arrivals(hooks, path, 6)) == 6  # two deliveries, three attempts each
    dead = await settled(web, user["id"], endpoint_id)
    assert [(d["status"], len(d["attempts"])) for d in dead] == [("dead", 3), ("dead", 3)]
    listed = (await web.get("/api/ops/webhooks/dead-deliveries", params={"limit": 500})).json()["items"]
    assert {d["id"] for d in dead} <= {d["id"] for d in listed}
    endpoint = (await web.get(f"/api/user/{user['id']}/webhooks/{endpoint_id}")).json()
    assert endpoint["enabled"] is False  # WEBHOOK_DISABLE_AFTER=2 dead deliveries in a row
    enabled = await web.patch(f"/api/user/{user['id']}/webhooks/{endpoint_id}", json={"enabled": True})
    assert enabled.status_code == 200
    again = await web.post(f"/api/user/{user['id']}/webhooks/{endpoint_id}/deliveries/{dead[0]['id']}/redeliver")
    assert again.status_code == 202, again.text
    got = await arrivals(hooks, path, 7)
    assert got[-1].headers["webhook-id"] == dead[0]["id"]
    redelivered = next(d for d in await settled(web, user["id"], endpoint_id) if d["id"] == dead[0]["id"])
    assert (redelivered["status"], redelivered["attempts"][-1]["status_code"]) == ("succeeded", 200)
    assert len(await quiet_then(hooks, path)) == 7


async def test_a_worker_killed_mid_delivery_leaves_it_to_be_delivered_again(web, worker_env, log_dir, hooks):
    user = await new_user(web)
    path = f"/killed/{user['id']}"
    held = threading.Event()
    created = await register(web, user["id"], hooks.script(path, Answer(hold=held)))
    first = WorkerProcess(worker_env, log_path=log_dir / "killed-first.log")
    try:
        await asyncio.to_thread(first.wait_ready)
        await rename(web, user["id"])
        assert len(await arrivals(hooks, path, 1)) == 1  # the attempt is in flight: the receiver holds it
        first.kill()
    finally:
        first.stop()
        held.set()
    with worker_process(worker_env, log_dir / "killed-second.log"):
        got = await arrivals(hooks, path, 2)
        assert len(got) == 2
        assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
        [delivery] = await settled(web, user["id"], created["endpoint"]["id"])
        assert delivery["status"] == "succeeded"
        assert delivery["attempts"][-1]["status_code"] == 200
        assert len(await quiet_then(hooks, path)) == 2
    body = msgspec.json.decode(got[1].body)
    assert body["type"] == "user.updated"


async def test_a_worker_without_the_flag_refuses_to_connect_to_a_private_address(web, worker_env, log_dir, hooks):
    # Registered while private addresses were allowed (or through a name that resolved elsewhere then): the
    # guard at connection time still refuses, so nothing reaches the receiver and the attempts say why.
    user = await new_user(web)
    path = f"/private/{user['id']}"
    created = await register(web, user["id"], hooks.script(path))
    strict = {**worker_env, "WEBHOOK_ALLOW_PRIVATE": "false"}
    with worker_process(strict, log_dir / "strict.log"):
        await rename(web, user["id"])
        [delivery] = await settled(web, user["id"], created["endpoint"]["id"])
    assert hooks.at(path) == []
    assert delivery["status"] == "dead"
    assert [a["status_code"] for a in delivery["attempts"]] == [None, None, None]
    assert "loopback, private or reserved address" in delivery["attempts"][0]["error"]


async def test_a_reports_outcome_arrives_with_its_report_id(web, worker, hooks):
    user_id = 4277  # a demo user with holdings, which no other test reports on
    path = f"/reports/{user_id}"
    created = await register(web, user_id, hooks.script(path), ["report.succeeded", "report.failed"])
    try:
        r = await web.post(f"/api/generate-report?user_id={user_id}")
        assert r.status_code == 202, r.text
        [arrival] = await arrivals(hooks, path, 1, timeout=60)
        event = verified(created["secret"], arrival)
        assert (event["type"], event["data"]["report_id"]) == ("report.succeeded", r.json()["task_id"])
        assert len(await quiet_then(hooks, path)) == 1
    finally:
        await web.delete(f"/api/user/{user_id}/webhooks/{created['endpoint']['id']}")


async def test_on_rabbitmq_the_relay_and_the_delivery_actor_deliver_each_event_once(
    web, worker_env, log_dir, hooks, rabbitmq
):
    # The worker consumes from RabbitMQ only (BROKER_URL), so an arrival went web row -> relay -> RabbitMQ -> actor.
    with worker_process({**worker_env, "BROKER_URL": rabbitmq.url}, log_dir / "rabbitmq.log"):
        user = await new_user(web)
        path = f"/rabbit/{user['id']}"
        created = await register(web, user["id"], hooks.script(path, Answer(status=500)))
        await rename(web, user["id"])
        got = await arrivals(hooks, path, 2)
        assert [verified(created["secret"], a)["type"] for a in got] == ["user.updated"] * 2
        assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]  # the 500's retry, then the 200
        assert len(await quiet_then(hooks, path)) == 2
        [delivery] = await settled(web, user["id"], created["endpoint"]["id"])
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
