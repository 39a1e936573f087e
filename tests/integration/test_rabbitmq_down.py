"""RabbitMQ down or stalled: the web answers within BROKER_TIMEOUT_MS, keeps the report, and says the broker is down.

The broker fails open, as on Valkey: the report's row is written first and the workers' sweeper sends it
later, so a request is accepted (202) and readiness stays 200, `degraded`, naming the broker.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date

import pytest
from dramatiq import Message
from litestar import Litestar
from litestar.testing import AsyncTestClient

from cli.embedded import free_port
from config.queues import DAILY_JOB_ACTORS
from config.settings import Settings
from domain.adapters.amqp_queue import build_amqp_broker
from domain.adapters.daily_jobs_queue import DramatiqDailyJobQueue
from domain.errors import UnavailableError
from domain.models.market_day import CLOSE_JOB
from gateway.app import create_app
from tests.conftest import with_settings
from tests.rabbitmq import RabbitMQServer

pytestmark = [pytest.mark.integration, pytest.mark.http]


@pytest.fixture(scope="module")
async def silent_broker() -> AsyncIterator[int]:
    """A port that accepts connections and never answers: a stalled broker."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.fixture(scope="module", params=["refused", "stalled"])
async def web(
    request: pytest.FixtureRequest, settings: Settings, operator_headers: dict[str, str], silent_broker: int
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    port = free_port() if request.param == "refused" else silent_broker
    down = with_settings(settings, broker_url=f"amqp://guest:guest@127.0.0.1:{port}/", broker_timeout_ms=500)
    async with AsyncTestClient(app=create_app(down)) as c:
        c.headers["Authorization"] = operator_headers["Authorization"]
        yield c


async def test_a_report_request_is_kept_and_answered_within_the_broker_deadline(web: AsyncTestClient[Litestar]):
    started = time.monotonic()
    r = await web.post("/api/generate-report?user_id=4206")
    assert r.status_code == 202, r.text
    assert time.monotonic() - started < 2.5  # the 0.5 s deadline, not a hang
    report = (await web.get(f"/api/reports/{r.json()['task_id']}")).json()
    assert report["status"] == "queued"  # the row is the record: the sweeper sends it once RabbitMQ is back


async def test_readiness_stays_up_and_names_the_broker_as_down(web: AsyncTestClient[Litestar]):
    started = time.monotonic()
    ready = await web.get("/health/ready")
    assert time.monotonic() - started < 2.5
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["down"] == ["broker"]


async def test_the_clocks_jobs_go_to_rabbitmq_and_fail_as_unavailable_when_it_is_down(rabbitmq: RabbitMQServer):
    queue_name = "market-contract"
    broker = build_amqp_broker(rabbitmq.url, socket_timeout_s=1)
    try:
        await DramatiqDailyJobQueue(broker, queue_name=queue_name, actors=DAILY_JOB_ACTORS).send(
            CLOSE_JOB, date(2026, 11, 2)
        )
        consumer = broker.consume(queue_name, prefetch=1, timeout=2000)
        taken = next(consumer)
        assert taken is not None
        consumer.ack(taken)
        consumer.close()
    finally:
        broker.close()
    message: Message[object] = taken._message
    assert (message.actor_name, message.args) == (DAILY_JOB_ACTORS[CLOSE_JOB], ("2026-11-02",))
    closed = build_amqp_broker(f"amqp://guest:guest@127.0.0.1:{free_port()}/", socket_timeout_s=0.5)
    with pytest.raises(UnavailableError):
        await DramatiqDailyJobQueue(closed, queue_name=queue_name, actors=DAILY_JOB_ACTORS).send(
            CLOSE_JOB, date(2026, 11, 2)
        )
