"""The Dramatiq broker on Valkey: a wake-up channel for the worker, built with explicit timeouts."""

import valkey
from dramatiq.brokers.redis import RedisBroker


def build_broker(url: str, *, socket_timeout_s: float, heartbeat_timeout_ms: int = 15_000) -> RedisBroker:
    """A Redis-protocol broker on a valkey-py client (the sync client has no timeouts unless given).

    `heartbeat_timeout` and a high `maintenance_chance` make a killed worker's messages come back in
    seconds rather than minutes.
    """
    client = valkey.Valkey.from_url(url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s)
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client, heartbeat_timeout=heartbeat_timeout_ms, maintenance_chance=100_000
    )
