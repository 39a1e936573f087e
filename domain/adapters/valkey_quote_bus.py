"""Valkey pub/sub for quote versions: an ingest announces, every web process refreshes at once."""

import asyncio
import logging
import time
from collections.abc import Callable

import valkey.asyncio as avalkey
from valkey.exceptions import ValkeyError

from domain.adapters.valkey import raise_if_cancelled
from domain.ports.quotes import QuoteVersionBus

log = logging.getLogger("folio.quote_bus")

CHANNEL = "folio:quotes:versions"
_READ_TIMEOUT_S = 1.0
_PING_EVERY_S = 5.0
# A subscription that heard nothing (not even its own pings) for this long is presumed dead.
_SILENCE_LIMIT_S = 3 * _PING_EVERY_S
_RETRY_S = (0.5, 1.0, 2.0, 5.0)


class ValkeyQuoteVersionBus(QuoteVersionBus):
    """Announces on the shared client; listens on a connection of its own, held open."""

    def __init__(self, client: avalkey.Valkey, url: str, *, connect_timeout_s: float = 1.0) -> None:
        self._client = client
        self._url = url
        self._connect_timeout_s = connect_timeout_s

    async def announce(self, version: int) -> None:
        try:
            await self._client.publish(CHANNEL, str(version))
        except (ValkeyError, OSError) as e:
            # Best effort: every process also polls the version, so this only costs latency.
            log.warning("quote version %d not announced: %s", version, e)

    async def listen(self, on_version: Callable[[int], None]) -> None:
        failures = 0
        while True:
            raise_if_cancelled()
            try:
                await self._subscribe_and_read(on_version)
            except (ValkeyError, OSError, TimeoutError) as e:
                delay = _RETRY_S[min(failures, len(_RETRY_S) - 1)]
                failures += 1
                log.warning("quote version subscription lost (%s); retrying in %.1fs", e, delay)
                await asyncio.sleep(delay)

    async def _subscribe_and_read(self, on_version: Callable[[int], None]) -> None:
        client = avalkey.Valkey.from_url(
            self._url, socket_connect_timeout=self._connect_timeout_s, socket_timeout=_SILENCE_LIMIT_S
        )
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(CHANNEL)
                on_version(0)  # anything announced while we were away is caught up by one refresh
                await _read(pubsub, on_version)
        finally:
            await client.aclose()


async def _read(pubsub: avalkey.client.PubSub, on_version: Callable[[int], None]) -> None:
    heard = pinged = time.monotonic()
    while True:
        raise_if_cancelled()
        message = await pubsub.get_message(timeout=_READ_TIMEOUT_S)
        now = time.monotonic()
        if message is not None:
            heard = now
            if message["type"] == "message":
                on_version(_version_of(message["data"]))
        if now - heard > _SILENCE_LIMIT_S:
            raise TimeoutError("no answer to pings on the quote version subscription")
        if now - pinged > _PING_EVERY_S:
            pinged = now
            await pubsub.ping()


def _version_of(data: object) -> int:
    if isinstance(data, (bytes, str)) and data.isdigit():
        return int(data)
    return 0
