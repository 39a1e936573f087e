"""Reports end to end on the real servers and real worker processes: PDF, email, and no lost or double reports.

Every test runs on both brokers: Dramatiq's Redis broker on Valkey, and RabbitMQ (BROKER_URL=amqp://...).
"""

import asyncio
import email
import email.policy
import io
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pypdf import PdfReader

from cli.embedded import EmbeddedServers, SmtpSink, free_port
from config.settings import Settings
from gateway.app import create_app
from tests.conftest import with_settings
from tests.processes import WorkerProcess, worker_process

pytestmark = [pytest.mark.integration]

# Short, explicit deadlines and backoffs: a lost report comes back in seconds, not minutes.
FAST = {
    "REPORT_DEADLINE_S": "4",
    "REPORT_TIME_LIMIT_S": "3",
    "REPORT_SWEEP_INTERVAL_S": "0.3",
    "REPORT_MAX_ATTEMPTS": "3",
    "REPORT_MIN_BACKOFF_MS": "100",
    "REPORT_MAX_BACKOFF_MS": "300",
    "SMTP_TIMEOUT_S": "2",
}


@pytest.fixture(scope="module", params=["valkey", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> str:
    """The broker these tests run on: its name (the rabbitmq fixture starts the suite's node once)."""
    if request.param == "rabbitmq":
        request.getfixturevalue("rabbitmq")
    return str(request.param)


@pytest.fixture(scope="module")
def broker_url(broker: str, request: pytest.FixtureRequest) -> str:
    """BROKER_URL for the web and the workers: empty (VALKEY_URL) or the suite's RabbitMQ."""
    return "" if broker == "valkey" else request.getfixturevalue("rabbitmq").url


@pytest.fixture(scope="module")
def fast_settings(settings: Settings, broker_url: str) -> Settings:
    return with_settings(
        settings, report_deadline_s=4.0, report_time_limit_s=3.0, broker_url=broker_url, broker_timeout_ms=1000
    )


@pytest.fixture(scope="module")
async def web(fast_settings: Settings, operator_headers: dict[str, str]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(fast_settings)) as c:
        c.headers["Authorization"] = operator_headers["Authorization"]
        yield c


@pytest.fixture
def worker_env(process_env: dict[str, str], broker_url: str) -> dict[str, str]:
    return {**process_env, **FAST, "BROKER_URL": broker_url}


@pytest.fixture
def log_dir(servers: EmbeddedServers, broker: str) -> Path:
    return servers.data_dir / "worker-logs" / broker


@pytest.fixture
def worker(worker_env: dict[str, str], log_dir: Path, request: pytest.FixtureRequest) -> Iterator[WorkerProcess]:
    with worker_process(worker_env, log_dir / f"{request.node.name}.log") as w:
        yield w


def emails_for(smtp: SmtpSink, report_id: str) -> list[email.message.EmailMessage]:
    found = []
    for path in smtp.messages():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["X-Folio-Report-Id"] == report_id:
            found.append(msg)
    return found  # type: ignore[return-value]


async def request_report(web: AsyncTestClient[Litestar], user_id: int) -> str:
    r = await web.post(f"/api/generate-report?user_id={user_id}")
    assert r.status_code == 202, r.text
    return str(r.json()["task_id"])


async def wait_status(web: AsyncTestClient[Litestar], task_id: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = (await web.get(f"/api/reports/{task_id}")).json()
        if body["status"] in statuses:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"report never reached {statuses}: {body}")


async def test_a_report_is_computed_rendered_stored_and_emailed_once(web, worker, embedded_smtp):
    task_id = await request_report(web, 4201)
    done = await wait_status(web, task_id, {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    assert done["email_status"] == "sent"
    assert done["attempts"] == 1
    assert done["document_url"] == f"/api/reports/{task_id}/document"
    pdf = await web.get(done["document_url"])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 2
    text = "\n".join(page.extract_text() for page in reader.pages)
    for heading in ("Portfolio report", "Summary", "Total value", "Sharpe ratio", "Maximum drawdown", "Allocation",
                    "Top holdings", "Value over the year"):  # fmt: skip
        assert heading in text, heading
    mails = emails_for(embedded_smtp, task_id)
    assert len(mails) == 1
    user_email = (await web.get("/api/user/4201/portfolio")).status_code  # the user exists
    assert user_email == 200
    attachment = next(mails[0].iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf.content


async def test_a_worker_killed_mid_report_ends_with_one_report_and_one_email(web, worker_env, log_dir, embedded_smtp):
    first = WorkerProcess(worker_env, log_path=log_dir / "killed.log")
    try:
        first.wait_ready()
        task_id = await request_report(web, 4202)
        await wait_status(web, task_id, {"running"}, timeout=20)
        first.kill()
    finally:
        first.stop()
    # A second worker finds the row running past its lease (the sweeper) and finishes it.
    with worker_process(worker_env, log_dir / "after-kill.log"):
        done = await wait_status(web, task_id, {"succeeded", "failed"}, timeout=40)
        assert done["status"] == "succeeded", done
        assert done["attempts"] == 2
        await asyncio.sleep(1)  # time for a late duplicate to show up, if there were one
    assert len(emails_for(embedded_smtp, task_id)) == 1


async def test_a_broker_restart_still_ends_with_each_report_done_once(
    web, broker, worker_env, log_dir, embedded_smtp, request
):
    task_id = await request_report(web, 4203)  # enqueued, no worker running yet
    if broker == "valkey":
        embedded_valkey = request.getfixturevalue("embedded_valkey")
        embedded_valkey.stop()  # no persistence: the message is gone (the sweeper sends it again)
        embedded_valkey.start()
    else:
        rabbitmq = request.getfixturevalue("rabbitmq")
        waiting = rabbitmq.depth("reports")
        assert waiting >= 1  # the web published to RabbitMQ
        rabbitmq.stop()  # a durable queue and persistent messages: still there after the restart
        rabbitmq.start()
        assert rabbitmq.depth("reports") == waiting
    after = await request_report(web, 4205)  # the web's connection to the broker comes back (or the sweeper sends)
    with worker_process(worker_env, log_dir / "restart.log"):
        for each in (task_id, after):
            done = await wait_status(web, each, {"succeeded", "failed"}, timeout=40)
            assert done["status"] == "succeeded", done
        await asyncio.sleep(1)
    assert len(emails_for(embedded_smtp, task_id)) == 1
    assert len(emails_for(embedded_smtp, after)) == 1


@pytest.mark.parametrize("broker", ["rabbitmq"], indirect=True)  # Valkey's restart is the test above
async def test_a_worker_running_across_a_rabbitmq_restart_takes_the_next_report_once(
    web, worker, embedded_smtp, request
):
    rabbitmq = request.getfixturevalue("rabbitmq")
    rabbitmq.stop()
    rabbitmq.start()
    task_id = await request_report(web, 4207)  # the worker's consumer and the web's channel both reconnect
    done = await wait_status(web, task_id, {"succeeded", "failed"}, timeout=40)
    assert done["status"] == "succeeded", done
    await asyncio.sleep(1)
    assert len(emails_for(embedded_smtp, task_id)) == 1


async def test_a_failing_mail_server_is_retried_then_the_report_fails_with_the_reason(
    web, worker_env, log_dir, servers
):
    closed = free_port()
    env = {**worker_env, "SMTP_URL": f"smtp://127.0.0.1:{closed}"}
    with worker_process(env, log_dir / "smtp-down.log"):
        task_id = await request_report(web, 4204)
        done = await wait_status(web, task_id, {"succeeded", "failed"}, timeout=40)
    assert done["status"] == "failed", done
    assert done["attempts"] == 3
    assert "gave up after 3 attempts" in done["error"]
    assert "SMTP" in done["error"]
    assert done["email_status"] == "pending"
    assert done["document_url"]  # the PDF was made once and kept
    if servers.smtp is not None:  # a given SMTP server keeps no files to look in
        assert emails_for(servers.smtp, task_id) == []
    dead = (await web.get("/api/ops/reports?status=failed&limit=100")).json()["items"]
    assert any(item["task_id"] == task_id and "SMTP" in item["error"] for item in dead)
