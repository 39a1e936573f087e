"""Valkey: the client pool shared by the cache, the rate limiter and readiness checks."""

import valkey.asyncio as avalkey

ValkeyClient = avalkey.Valkey


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


class ValkeyProbe:
    """Readiness: a PING with the client's own short timeouts."""

    def __init__(self, name: str, client: avalkey.Valkey) -> None:
        self.name = name
        self._client = client

    async def check(self) -> None:
        await self._client.ping()
