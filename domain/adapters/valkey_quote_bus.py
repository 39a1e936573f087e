"""Valkey pub/sub for quote versions: an ingest announces, every web process refreshes at once.

On a Valkey Cluster it is one sharded channel (SPUBLISH/SSUBSCRIBE) on the primary that owns its slot."""

import asyncio
import logging
import time
from collections.abc import Callable

import valkey.asyncio as avalkey

from domain.adapters.valkey import FAILURES, PubSubRoute, raise_if_cancelled
from domain.ports.quotes import QuoteVersionBus

log = logging.getLogger("folio.quote_bus")

CHANNEL = "folio:quotes:versions"
SHARDED_CHANNEL = "folio:{quotes}:versions"
_READ_TIMEOUT_S = 1.0
_PING_EVERY_S = 5.0
# A subscription that heard nothing (not even its own pings) for this long is presumed dead.
_SILENCE_LIMIT_S = 3 * _PING_EVERY_S
_RETRY_S = (0.5, 1.0, 2.0, 5.0)


class ValkeyQuoteVersionBus(QuoteVersionBus):
    """Announces on the shared client; listens on a connection of its own, held open."""

    def __init__(self, route: PubSubRoute) -> None:
        self._route = route
        self._channel = SHARDED_CHANNEL if route.sharded else CHANNEL

    async def announce(self, version: int) -> None:
        try:
            await self._route.publish(self._channel, str(version))
        except FAILURES as e:
            # Best effort: every process also polls the version, so this only costs latency.
            log.warning("quote version %d not announced: %s", version, e)

    async def listen(self, on_version: Callable[[int], None]) -> None:
        failures = 0
        while True:
            raise_if_cancelled()
            try:
                await self._subscribe_and_read(on_version, refresh=failures > 0)
            except FAILURES as e:
                delay = _RETRY_S[min(failures, len(_RETRY_S) - 1)]
                failures += 1
                log.warning("quote version subscription lost (%s); retrying in %.1fs", e, delay)
                await asyncio.sleep(delay)

    async def _subscribe_and_read(self, on_version: Callable[[int], None], *, refresh: bool) -> None:
        client = await self._route.listener(self._channel, read_timeout_s=_SILENCE_LIMIT_S, refresh=refresh)
        try:
            async with client.pubsub() as pubsub:
                await self._route.subscribe(pubsub, self._channel)
                on_version(0)  # anything announced while we were away is caught up by one refresh
                await _read(pubsub, on_version, self._route.message_type)
        finally:
            await client.aclose()


async def _read(pubsub: avalkey.client.PubSub, on_version: Callable[[int], None], message_type: str) -> None:
    heard = pinged = time.monotonic()
    while True:
        raise_if_cancelled()
        message = await pubsub.get_message(timeout=_READ_TIMEOUT_S)
        now = time.monotonic()
        if message is not None:
            heard = now
            if message["type"] == message_type:
                on_version(_version_of(message["data"]))
            elif message["type"] == "sunsubscribe":  # the cluster moved the channel's slot
                raise ConnectionError("the quote version channel moved to another node")
        if now - heard > _SILENCE_LIMIT_S:
            raise TimeoutError("no answer to pings on the quote version subscription")
        if now - pinged > _PING_EVERY_S:
            pinged = now
            await pubsub.ping()


def _version_of(data: object) -> int:
    if isinstance(data, (bytes, str)) and data.isdigit():
        return int(data)
    return 0
