"""Valkey: the client shared by the cache, the rate limiter, the buses and readiness checks, on one node or a
Valkey Cluster, and the pub/sub route the buses take (plain channels on one node, sharded ones on a cluster)."""

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any
from urllib.parse import urlsplit

import valkey.asyncio as avalkey
from valkey.asyncio.cluster import ClusterNode, ValkeyCluster
from valkey.asyncio.retry import Retry
from valkey.backoff import NoBackoff
from valkey.commands.core import AsyncScript
from valkey.exceptions import ValkeyClusterException, ValkeyError
from valkey.typing import EncodableT

ValkeyServer = avalkey.Valkey  # one node
ValkeyClient = avalkey.Valkey | ValkeyCluster
# What a Valkey call may raise when the server (or a cluster node) is away: the cluster client's own
# exceptions (no slot covered, no node reachable) are not ValkeyErrors, and on uvloop (Granian's loop) a
# command written to a connection the peer has just closed raises uvloop's RuntimeError ("unable to perform
# operation on <TCPTransport closed=True ...>; the handler is closed"), which valkey-py lets through.
FAILURES = (ValkeyError, ValkeyClusterException, OSError, TimeoutError, asyncio.TimeoutError, RuntimeError)


def open_valkey(url: str, *, max_connections: int, timeout_s: float, wait_s: float) -> avalkey.Valkey:
    """A client whose pool makes callers wait (up to `wait_s`) for a free connection instead of failing;
    each command still has its own short `timeout_s`."""
    pool = avalkey.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=wait_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )
    return avalkey.Valkey(connection_pool=pool)


class _WaitingCluster(ValkeyCluster):
    """A cluster client whose callers wait (up to `wait_s`) for one of `max_connections` commands in flight,
    as the single node's blocking pool makes them: valkey-py's cluster nodes raise at once when their
    connections are all busy, which a burst would turn into breaker failures."""

    def __init__(self, *, wait_s: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(max_connections=max_connections, **kwargs)
        self._in_flight = asyncio.Semaphore(max_connections)
        self._wait_s = wait_s

    async def execute_command(self, *args: EncodableT, **kwargs: Any) -> Any:
        async with asyncio.timeout(self._wait_s):
            await self._in_flight.acquire()
        try:
            return await super().execute_command(*args, **kwargs)
        finally:
            self._in_flight.release()


def open_valkey_cluster(
    urls: Sequence[str], *, max_connections: int, timeout_s: float, wait_s: float = 1.0
) -> ValkeyCluster:
    """A cluster client from startup nodes (redis:// URLs; user, password and TLS taken from the first).

    It fails fast on a stopped primary, as the single-node client does: no retries on a connection error
    (the next command re-reads the slot map instead), one retry after a redirection or a CLUSTERDOWN, and
    partial slot coverage accepted, so the keys on the primaries still up keep being served. At most
    `max_connections` commands are in flight (so at most that many connections to any one node).
    """
    first = urlsplit(urls[0])
    return _WaitingCluster(
        wait_s=wait_s,
        startup_nodes=[ClusterNode(*_host_port(url)) for url in urls],
        require_full_coverage=False,
        cluster_error_retry_attempts=1,
        connection_error_retry_attempts=0,
        max_connections=max_connections,
        username=first.username,
        password=first.password,
        ssl=first.scheme in ("rediss", "valkeys"),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )


def register_script(client: ValkeyClient, script: str) -> AsyncScript:
    """valkey-py types `register_script` for the single-node client only; its script object runs on a cluster's
    too (EVALSHA goes to the primary of the keys' slot; on NOSCRIPT the script is loaded on every primary)."""
    return AsyncScript(client, script)  # type: ignore[arg-type]


def _at(url: str, host: str, port: int) -> str:
    """`url` (its user, password and scheme) pointed at another node."""
    parts = urlsplit(url.strip())
    credentials = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}").geturl()


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url.strip())
    return parts.hostname or "127.0.0.1", parts.port or 6379


class PubSubRoute:
    """Where a bus publishes and listens: plain pub/sub on one node; on a cluster, sharded pub/sub
    (SPUBLISH/SSUBSCRIBE) on the primary that owns the channel's slot, so a message crosses no cluster bus.

    valkey-py's asyncio cluster client has no pub/sub of its own, so a listener opens a plain connection
    to the owning node. Channels subscribed together must share a slot there (one hash tag).
    """

    def __init__(self, client: ValkeyClient, url: str, *, connect_timeout_s: float) -> None:
        self.client = client
        self.sharded = isinstance(client, ValkeyCluster)
        self._url = url
        self._connect_timeout_s = connect_timeout_s
        self.message_type = "smessage" if self.sharded else "message"
        self.subscribe_type = "ssubscribe" if self.sharded else "subscribe"

    def publish(self, channel: str, message: str) -> Awaitable[int]:
        """The number of subscribers that received it (on a cluster: those of the owning primary)."""
        if isinstance(self.client, ValkeyCluster):
            return self.client.execute_command("SPUBLISH", channel, message)
        return self.client.publish(channel, message)

    async def listener(self, channel: str, *, read_timeout_s: float, refresh: bool = False) -> avalkey.Valkey:
        """A client of its own for one subscription, on the node that serves `channel`; `refresh` first
        re-reads the cluster's slot map (after a failed subscription: the slot may have moved)."""
        url = self._url
        if isinstance(self.client, ValkeyCluster):
            await self.client.initialize()
            if refresh:
                await self.client.nodes_manager.initialize()
            node = self.client.get_node_from_key(channel)
            if node is None:
                raise ValkeyClusterException(f"no node serves the slot of {channel}")
            url = _at(url, node.host, int(node.port))
        # No retries on the subscription's connection: a silent reconnect would not re-subscribe sharded
        # channels, and a connection that still answers pings must never be one that hears nothing.
        client: avalkey.Valkey = avalkey.Valkey.from_url(
            url,
            socket_connect_timeout=self._connect_timeout_s,
            socket_timeout=read_timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        return client

    async def subscribe(self, pubsub: avalkey.client.PubSub, *channels: str) -> None:
        if self.sharded:
            await pubsub.execute_command("SSUBSCRIBE", *channels)
        else:
            await pubsub.subscribe(*channels)


def raise_if_cancelled() -> None:
    """Stop a listening loop whose cancellation a command swallowed.

    valkey-py bounds its writes with `asyncio.wait_for`, which on Python 3.11 returns the command's result
    when a cancellation lands as the command completes (CPython gh-86296, fixed in 3.12). The request stays
    counted on the task, so a loop that checks it stops; one that does not runs on after being cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class ValkeyProbe:
    """Readiness: a PING with the client's own short timeouts (on a cluster, to one of its nodes)."""

    def __init__(self, name: str, client: ValkeyClient) -> None:
        self.name = name
        self._client = client

    async def check(self) -> None:
        await self._client.ping()
