"""A trade whose commit happened but whose answer was lost: 503, then exactly once, and no stale read."""

import time
import uuid
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.conftest import with_settings
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

WRITE_S = 1.0
ORDER = {"symbol": "KO", "side": "buy", "quantity": "3", "price": "0.095"}


@pytest.fixture
def proxy(servers):
    host, port = servers.database_url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)
    p = TcpProxy(host, int(port)).start()
    yield p
    p.close()


def through(proxy: TcpProxy, url: str) -> str:
    user_host, rest = url.split("@", 1)
    return f"{user_host}@127.0.0.1:{proxy.port}/{rest.split('/', 1)[1]}"


def held_ko(body: dict) -> Decimal:
    held = next((h for h in body["holdings"] if h["symbol"] == "KO"), None)
    return Decimal(str(held["quantity"])) if held else Decimal(0)


async def test_a_trade_whose_commit_answer_is_lost_answers_503_and_its_retry_replays_it_once(
    settings, servers, proxy, operator_headers
):
    s = with_settings(settings, database_url=through(proxy, servers.database_url), db_write_deadline_s=WRITE_S)
    trader, key = 6120, f"lost-{uuid.uuid4()}"
    url, trades = f"/api/user/{trader}/portfolio", f"/api/user/{trader}/trades"
    async with AsyncTestClient(app=create_app(s), timeout=10) as c:
        c.headers.update(operator_headers)
        before = held_ko((await c.get(url)).json())
        assert (await c.get(url)).headers["x-cache"] == "hit"

        proxy.lose_answers_after(b"COMMIT")  # the server gets the COMMIT; its answer never comes back
        started = time.perf_counter()
        placed = await c.post(trades, json=ORDER, headers={"Idempotency-Key": key})
        elapsed = time.perf_counter() - started
        proxy.restore()
        assert placed.status_code == 503, placed.text
        assert placed.headers["retry-after"] == "1"
        assert elapsed < WRITE_S + 1.0

        # The trade did commit, and the client cannot know: reads show it at once (no stale cached copy)...
        assert held_ko((await c.get(url)).json()) == before + 3
        # ...and the retry with the same key returns it instead of buying again.
        retried = await c.post(trades, json=ORDER, headers={"Idempotency-Key": key})
        assert retried.status_code == 201, retried.text
        assert retried.headers["idempotent-replayed"] == "true"
        assert held_ko((await c.get(url)).json()) == before + 3
