"""Valkey: the client pool shared by the cache, the rate limiter and readiness checks."""

import asyncio

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
    """Readiness: a PING with the client's own short timeouts."""

    def __init__(self, name: str, client: avalkey.Valkey) -> None:
        self.name = name
        self._client = client

    async def check(self) -> None:
        await self._client.ping()
