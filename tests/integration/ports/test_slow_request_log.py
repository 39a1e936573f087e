"""One contract for the slow-request log, against the in-memory twin and the real Valkey adapter."""

import uuid

import pytest
import valkey.asyncio as avalkey

from domain.adapters.memory.slow_requests import InMemorySlowRequestLog
from domain.adapters.valkey_slow_requests import ValkeySlowRequestLog
from domain.models.slow_requests import SlowRequest
from domain.ports.slow_requests import KEPT

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "valkey"])
async def slow_log(request, servers):
    if request.param == "memory":
        yield InMemorySlowRequestLog()
        return
    client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    yield ValkeySlowRequestLog(client, key=f"test:slow:{uuid.uuid4().hex}")  # a list of this test's own
    await client.aclose()


def slow(n: int) -> SlowRequest:
    return SlowRequest(at=1000.0 + n, method="GET", route="/api/user/{user_id}/portfolio", path="/api/user/2/portfolio",
                       status=200, total_ms=900.0 + n, db_ms=600.0, cache_ms=1.5, app_ms=298.5 + n,
                       server_timing="db;dur=600.000, cache;dur=1.500, app;dur=298.500, total;dur=900.000",
                       request_id=f"rid-{n}")  # fmt: skip


async def test_the_log_keeps_the_last_fifty_newest_first(slow_log):
    assert await slow_log.recent() == ()
    for n in range(KEPT + 5):
        await slow_log.record(slow(n))
    kept = await slow_log.recent()
    assert len(kept) == KEPT
    assert [r.request_id for r in kept[:2]] == [f"rid-{KEPT + 4}", f"rid-{KEPT + 3}"]
    assert kept[-1].request_id == "rid-5"
    assert kept[0] == slow(KEPT + 4)
