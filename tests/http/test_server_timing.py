"""`Server-Timing` on every response, and the warning a slow request leaves in the log."""

import asyncio
import dataclasses
import logging
import re

import pytest
from litestar.testing import AsyncTestClient

from config.settings import Settings
from config.wiring.web import open_web
from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.models.holdings import Holdings
from domain.services.portfolios import PortfolioService
from gateway.app import create_app
from tests.conftest import with_settings
from tests.http.test_metrics import PORTFOLIO, parse, value

pytestmark = [pytest.mark.http, pytest.mark.integration]

_ENTRY = re.compile(r"^([A-Za-z0-9_-]+);dur=(\d+(?:\.\d+)?)$")


def timings(header: str) -> dict[str, float]:
    """Parse a W3C Server-Timing value (name;dur=ms entries, comma-separated)."""
    entries = {}
    for entry in header.split(","):
        match = _ENTRY.match(entry.strip())
        assert match, f"not a Server-Timing entry: {entry!r}"
        entries[match.group(1)] = float(match.group(2))
    return entries


async def test_a_fast_lane_hit_spends_nothing_in_the_database(client, auth_headers):
    # An in-process hit needs the invalidation bus trusted; a loaded machine can make it miss a
    # heartbeat for a moment (the local cache is then off), so allow a few tries for the hit.
    await client.get("/api/user/31/portfolio", headers=auth_headers(31))
    for _ in range(50):
        hit = await client.get("/api/user/31/portfolio", headers=auth_headers(31))
        parts = timings(hit.headers["server-timing"])
        if parts["cache"] == 0:
            break
        await asyncio.sleep(0.1)
    assert hit.headers["x-cache"] == "hit"
    assert set(parts) == {"db", "cache", "app", "total"}
    assert parts["db"] == 0
    assert parts["cache"] == 0
    assert parts["total"] >= parts["app"]


async def test_a_database_read_shows_its_database_time(client, auth_headers):
    miss = await client.get("/api/user/4323/portfolio", headers=auth_headers(4323))
    assert miss.headers["x-cache"] == "miss"
    parts = timings(miss.headers["server-timing"])
    assert parts["db"] > 0
    assert parts["cache"] > 0
    assert parts["total"] >= parts["db"]


@pytest.mark.parametrize("path", ["/health", "/api/market-data/CASH-EUR?days=5", "/no/such/route"])
async def test_every_route_carries_server_timing(client, path):
    response = await client.get(path)
    parts = timings(response.headers["server-timing"])
    assert parts["total"] > 0


class SlowHoldings(InMemoryHoldingsRepository):
    """Holdings that take a while: the slow request the warning is about."""

    async def get(self, user_id: int) -> Holdings | None:
        await asyncio.sleep(0.05)
        return await super().get(user_id)


async def test_a_slow_request_is_logged_with_its_breakdown_and_counted(settings: Settings, operator_headers):
    slow_settings = with_settings(settings, slow_request_ms=20)
    repository = SlowHoldings()
    repository.add_user(77)
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logging.getLogger("folio.slow").addHandler(handler)
    try:
        async with open_web(slow_settings) as real:
            portfolios = PortfolioService(repository, real.quotes.current, metrics=real.metrics)
            app = create_app(slow_settings, services=dataclasses.replace(real, portfolios=portfolios))
            async with AsyncTestClient(app=app) as client:
                client.headers.update(operator_headers)
                response = await client.get("/api/user/77/portfolio")
                assert response.status_code == 200
                metrics = parse((await client.get("/metrics")).text)
    finally:
        logging.getLogger("folio.slow").removeHandler(handler)
    [record] = [r for r in seen if getattr(r, "request_id", None) == response.headers["x-request-id"]]
    assert record.levelno == logging.WARNING
    assert (record.route, record.method, record.status) == (PORTFOLIO, "GET", 200)
    assert record.total_ms >= 20
    assert record.handler_ms >= 0
    assert record.db_ms >= 0
    assert record.cache_ms >= 0
    assert record.total_ms == pytest.approx(record.db_ms + record.cache_ms + record.handler_ms, abs=0.01)
    assert value(metrics, "folio_http_slow_requests_total", route=PORTFOLIO) >= 1
