"""One contract for the quote version bus, run against the in-memory twin and real Valkey pub/sub.

The Valkey channel is shared with the session's other processes, which may announce versions of their
own meanwhile: each test announces versions no other process uses and looks for those.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import valkey.asyncio as avalkey

from cli.embedded import EmbeddedServers
from domain.adapters.memory.quotes import InMemoryQuoteVersionBus
from domain.adapters.valkey import PubSubRoute
from domain.adapters.valkey_quote_bus import ValkeyQuoteVersionBus
from domain.ports.quotes import QuoteVersionBus
from tests.integration.ports.conftest import new_id
from tests.tcp_proxy import TcpProxy
from tests.valkey_cluster import cluster_client, cluster_route

pytestmark = pytest.mark.integration

MakeBus = Callable[[], QuoteVersionBus]


def valkey_bus(client: avalkey.Valkey, url: str, connect_timeout_s: float = 1.0) -> ValkeyQuoteVersionBus:
    return ValkeyQuoteVersionBus(PubSubRoute(client, url, connect_timeout_s=connect_timeout_s))


@pytest.fixture(params=["memory", "valkey", "valkey-cluster"])
async def make_bus(request: pytest.FixtureRequest, servers: EmbeddedServers) -> AsyncIterator[MakeBus]:
    """Buses on one server (one Valkey, or a Valkey Cluster: sharded pub/sub), each standing for a process."""
    if request.param == "memory":
        shared = InMemoryQuoteVersionBus()  # the twin is the process and the server at once
        yield lambda: shared
        return
    if request.param == "valkey-cluster":
        cluster = request.getfixturevalue("valkey_cluster")
        nodes = cluster_client(cluster)
        yield lambda: ValkeyQuoteVersionBus(cluster_route(nodes, cluster))
        await nodes.aclose()
        return
    client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1, socket_connect_timeout=1)
    yield lambda: valkey_bus(client, servers.valkey_url)
    await client.aclose()


def versions(count: int) -> list[int]:
    """Versions far above any the session publishes."""
    return [10**12 + new_id() for _ in range(count)]


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def listening(bus: QuoteVersionBus) -> AsyncIterator[list[int]]:
    """What `bus.listen` reports, from its first call (once subscribed) until the block ends."""
    heard: list[int] = []
    task = asyncio.create_task(bus.listen(heard.append))
    try:
        await eventually(lambda: bool(heard))
        yield heard
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def mine(heard: list[int], announced: list[int]) -> list[int]:
    return [v for v in heard if v in announced]


async def test_a_listener_first_hears_0_for_what_it_may_have_missed(make_bus: MakeBus):
    async with listening(make_bus()) as heard:
        assert heard[0] == 0


async def test_announcements_reach_every_listener_in_order(make_bus: MakeBus):
    announcer, first, second = make_bus(), make_bus(), make_bus()
    announced = versions(3)
    async with listening(first) as heard_first, listening(second) as heard_second:
        for version in announced:
            await announcer.announce(version)
        await eventually(lambda: mine(heard_first, announced) == mine(heard_second, announced) == announced)


async def test_announcing_with_nobody_listening_is_fine(make_bus: MakeBus):
    await make_bus().announce(versions(1)[0])


# --- Valkey only: a lost server ------------------------------------------------------------------------
async def test_announcing_without_valkey_does_not_raise():
    client = avalkey.Valkey.from_url("redis://127.0.0.1:1", socket_timeout=0.1, socket_connect_timeout=0.1)
    await valkey_bus(client, "redis://127.0.0.1:1").announce(7)
    await client.aclose()


@pytest.fixture
def proxy(servers: EmbeddedServers) -> Iterator[TcpProxy]:
    host, port = servers.valkey_url.removeprefix("redis://").split("/")[0].split(":")
    started = TcpProxy(host, int(port)).start()
    yield started
    started.close()


async def test_after_a_lost_subscription_it_hears_0_again_and_then_what_comes(
    servers: EmbeddedServers, proxy: TcpProxy
):
    client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1, socket_connect_timeout=1)
    listener = valkey_bus(client, f"redis://127.0.0.1:{proxy.port}", connect_timeout_s=0.5)
    announcer = valkey_bus(client, servers.valkey_url)
    try:
        async with listening(listener) as heard:
            proxy.cut()
            proxy.restore()  # the link is gone; the next connection goes through
            await eventually(lambda: heard.count(0) == 2)
            announced = versions(1)
            await announcer.announce(announced[0])
            await eventually(lambda: mine(heard, announced) == announced)
    finally:
        await client.aclose()


async def test_a_listener_stops_when_cancelled_even_while_it_subscribes(make_bus: MakeBus):
    # Early cancels land in the subscription's first commands, where Python 3.11's `asyncio.wait_for` (inside
    # valkey-py) can swallow them; the listener must stop anyway, or a shutdown waits on it.
    for i in range(24):
        task = asyncio.create_task(make_bus().listen(lambda _: None))
        await asyncio.sleep(i % 8 * 0.0005)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=3)
        assert done, f"the listener ran on after being cancelled {i % 8 * 0.5} ms in"
