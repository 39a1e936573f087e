"""One contract for the report queue's backlog, run against the fixed twin and the real Dramatiq queue on
Valkey (what a queue with messages reads as is in test_fleet_registry.py)."""

import uuid
from collections.abc import AsyncIterator

import pytest
import valkey.asyncio as avalkey

from cli.embedded import EmbeddedServers
from domain.adapters.memory.fleet import FixedQueueBacklog
from domain.adapters.queue_backlog import ValkeyQueueBacklog
from domain.errors import UnavailableError
from domain.models.fleet import Backlog
from domain.ports.fleet import QueueBacklog

pytestmark = pytest.mark.integration


@pytest.fixture(params=["fixed", "valkey"])
async def empty(request: pytest.FixtureRequest, servers: EmbeddedServers) -> AsyncIterator[QueueBacklog]:
    """The backlog of a queue nobody has sent to."""
    if request.param == "fixed":
        yield FixedQueueBacklog()
        return
    client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    yield ValkeyQueueBacklog(client, f"contract{uuid.uuid4().hex[:8]}")
    await client.aclose()


async def test_an_empty_queue_has_nothing_waiting_and_no_age(empty: QueueBacklog):
    assert await empty.measure() == Backlog(queued=0, oldest_age_s=0.0)


async def test_a_valkey_that_does_not_answer_raises_unavailable():
    dead = avalkey.Valkey.from_url("redis://127.0.0.1:1", socket_timeout=0.2, socket_connect_timeout=0.2)
    with pytest.raises(UnavailableError):
        await ValkeyQueueBacklog(dead, "reports").measure()
    await dead.aclose()
