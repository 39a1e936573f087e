"""One contract for the invalidation bus, run against the in-memory hub and real Valkey pub/sub.

Each bus stands for one process. The Valkey channel is shared with the session's other processes,
which receive (and acknowledge) these broadcasts too: every user and key id here is new, so none of
them holds it.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import pytest
import valkey.asyncio as avalkey

from cli.embedded import EmbeddedServers
from domain.adapters.memory.holdings import InMemoryInvalidationHub
from domain.adapters.valkey import PubSubRoute
from domain.adapters.valkey_bus import CHANNEL, ValkeyInvalidationBus
from domain.models.invalidations import ApiKeyRevoked, HoldingsChanged, Invalidation, SessionsRevoked
from domain.ports.holdings import InvalidationBus
from tests.integration.ports.conftest import new_id
from tests.tcp_proxy import TcpProxy
from tests.valkey_cluster import cluster_client, cluster_route

pytestmark = pytest.mark.integration
HEARTBEAT_S = 0.2  # trusted for 3 heartbeats without an answer: roomy enough for a loaded machine
ACK_TIMEOUT_S = 2.0

MakeBus = Callable[[], InvalidationBus]


def valkey_bus(url: str, publisher: avalkey.Valkey, heartbeat_s: float = HEARTBEAT_S) -> ValkeyInvalidationBus:
    route = PubSubRoute(publisher, url, connect_timeout_s=1.0)
    return ValkeyInvalidationBus(route, heartbeat_s=heartbeat_s, ack_timeout_s=ACK_TIMEOUT_S)


@pytest.fixture(params=["memory", "valkey", "valkey-cluster"])
async def make_bus(request: pytest.FixtureRequest, servers: EmbeddedServers) -> AsyncIterator[MakeBus]:
    """Buses on one server (a hub, one Valkey, or a Valkey Cluster: sharded pub/sub), each standing for a process."""
    if request.param == "memory":
        hub = InMemoryInvalidationHub()
        yield hub.bus
        return
    if request.param == "valkey-cluster":
        cluster = request.getfixturevalue("valkey_cluster")
        client = cluster_client(cluster)
        route = cluster_route(client, cluster)
        yield lambda: ValkeyInvalidationBus(route, heartbeat_s=HEARTBEAT_S, ack_timeout_s=ACK_TIMEOUT_S)
        await client.aclose()
        return
    publisher = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    yield lambda: valkey_bus(servers.valkey_url, publisher)
    await publisher.aclose()


@dataclass
class Heard:
    messages: list[Invalidation] = field(default_factory=list)
    lost: int = 0

    def hear(self, message: Invalidation) -> None:
        self.messages.append(message)

    def lose(self) -> None:
        self.lost += 1

    @property
    def invalidated(self) -> list[int]:
        """The users whose holdings changed."""
        return [m.user_id for m in self.messages if isinstance(m, HoldingsChanged)]


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def listening(bus: InvalidationBus) -> AsyncIterator[Heard]:
    """Run `bus.listen` until the block ends; enter once the bus is trusted."""
    heard = Heard()
    task = asyncio.create_task(bus.listen(heard.hear, heard.lose))
    try:
        await eventually(bus.trusted)
        yield heard
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_bus_is_trusted_only_while_it_listens(make_bus: MakeBus):
    bus = make_bus()
    assert bus.trusted() is False  # it cannot know of invalidations it is not listening for
    async with listening(bus):
        assert bus.trusted() is True
    assert bus.trusted() is False


async def test_a_broadcast_has_reached_every_listener_when_it_returns(make_bus: MakeBus):
    writer, reader = make_bus(), make_bus()
    user = new_id()
    async with listening(writer) as own, listening(reader) as other:
        await writer.broadcast(HoldingsChanged(user_id=user))
        assert other.invalidated.count(user) == 1
        assert own.invalidated.count(user) == 1  # the writer's own local copy goes too
        assert (own.lost, other.lost) == (0, 0)


async def test_a_broadcast_with_nobody_else_listening_returns_at_once(make_bus: MakeBus):
    started = time.monotonic()
    await make_bus().broadcast(HoldingsChanged(user_id=new_id()))
    assert time.monotonic() - started < ACK_TIMEOUT_S + 1  # bounded by the wait for acknowledgements


async def test_revocations_reach_every_listener_as_the_messages_they_were(make_bus: MakeBus):
    writer, reader = make_bus(), make_bus()
    key = ApiKeyRevoked(key_id=f"0000{new_id():04d}-0000-4000-8000-000000000000")
    sessions = SessionsRevoked(user_id=new_id(), not_before=1_790_000_000.123456)
    async with listening(writer), listening(reader) as other:
        await writer.broadcast(key)
        await writer.broadcast(sessions)
        assert other.messages == [key, sessions]  # the watermark to the microsecond
        assert other.invalidated == []


async def test_a_listener_that_stopped_hears_nothing_more(make_bus: MakeBus):
    writer, reader = make_bus(), make_bus()
    async with listening(writer), listening(reader) as other:
        pass
    async with listening(writer):
        await writer.broadcast(HoldingsChanged(user_id=(user := new_id())))
    assert user not in other.invalidated


# --- Valkey only: the wire, and losing the subscription -----------------------------------------------
async def test_a_message_a_listener_does_not_understand_is_acknowledged_and_skipped(servers: EmbeddedServers):
    publisher = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    reader = valkey_bus(servers.valkey_url, publisher)
    try:
        async with listening(reader) as heard:
            # As a later release might send: an unknown kind; the writer still hears this process's ack.
            await publisher.publish(CHANNEL, '{"type":"future","x":1} 00ff test-origin')
            user = new_id()
            await valkey_bus(servers.valkey_url, publisher).broadcast(HoldingsChanged(user_id=user))
            assert heard.invalidated == [user]
            assert heard.lost == 0
    finally:
        await publisher.aclose()


async def test_holdings_invalidations_keep_the_wire_form_of_earlier_releases(servers: EmbeddedServers):
    # A rolling deploy runs both releases side by side: each must understand the other's trades.
    publisher = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    raw = publisher.pubsub()
    await raw.subscribe(CHANNEL)
    try:
        async with listening(valkey_bus(servers.valkey_url, publisher)) as heard:
            user = new_id()
            await publisher.publish(CHANNEL, f"{user} 00ff earlier-release")  # as the earlier release sends it
            await eventually(lambda: user in heard.invalidated)
            sent = new_id()
            await valkey_bus(servers.valkey_url, publisher).broadcast(HoldingsChanged(user_id=sent))
            seen: list[str] = []
            deadline = time.monotonic() + 5
            while not any(text.startswith(f"{sent} ") for text in seen):
                assert time.monotonic() < deadline, seen
                message = await raw.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if message is not None:  # None: nothing yet, or the subscription's confirmation
                    seen.append(message["data"].decode())
            assert len(seen[-1].split(" ")) == 3  # `<user> <nonce> <origin>`, as the earlier release reads it
    finally:
        await raw.aclose()
        await publisher.aclose()


# --- Valkey only: losing the subscription ------------------------------------------------------------
@pytest.fixture
def proxy(servers: EmbeddedServers) -> Iterator[TcpProxy]:
    host, port = servers.valkey_url.removeprefix("redis://").split("/")[0].split(":")
    started = TcpProxy(host, int(port)).start()
    yield started
    started.close()


async def test_a_lost_subscription_calls_on_lost_and_is_distrusted_until_it_is_back(
    servers: EmbeddedServers, proxy: TcpProxy
):
    publisher = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=1)
    bus = valkey_bus(f"redis://127.0.0.1:{proxy.port}", publisher)
    try:
        async with listening(bus) as heard:
            proxy.cut()
            await eventually(lambda: heard.lost >= 1)
            assert bus.trusted() is False
            proxy.restore()
            await eventually(bus.trusted)  # resubscribed: invalidations flow again
            user = new_id()
            await valkey_bus(servers.valkey_url, publisher).broadcast(HoldingsChanged(user_id=user))
            assert user in heard.invalidated
    finally:
        await publisher.aclose()


async def test_a_broadcast_that_cannot_be_published_outwaits_every_trust_window():
    dead = avalkey.Valkey.from_url("redis://127.0.0.1:1", socket_timeout=0.2, socket_connect_timeout=0.2)
    bus = valkey_bus("redis://127.0.0.1:1", dead, heartbeat_s=0.1)
    started = time.monotonic()
    await bus.broadcast(HoldingsChanged(user_id=new_id()))  # never raises: the writer's request goes on
    waited = time.monotonic() - started
    assert 0.4 <= waited < 3  # three heartbeats of trust, one more for the last heartbeat in flight
    await dead.aclose()


async def test_a_listener_stops_when_cancelled_even_while_it_subscribes(make_bus: MakeBus):
    # Early cancels land in the subscription's first commands, where Python 3.11's `asyncio.wait_for` (inside
    # valkey-py) can swallow them; the listener must stop anyway, or a shutdown waits on it.
    for i in range(24):
        task = asyncio.create_task(make_bus().listen(lambda _: None, lambda: None))
        await asyncio.sleep(i % 8 * 0.0005)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=3)
        assert done, f"the listener ran on after being cancelled {i % 8 * 0.5} ms in"
