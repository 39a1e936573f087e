"""Slow requests on Valkey: one capped list (LPUSH, then LTRIM to the last 50) that every process of the
deployment writes, so one console sees them all. Written after the response, off the request's path."""

import logging

import msgspec
import valkey.asyncio as avalkey
from valkey.asyncio.cluster import ValkeyCluster

from domain.adapters.valkey import FAILURES
from domain.errors import UnavailableError
from domain.models.slow_requests import SlowRequest
from domain.ports.slow_requests import KEPT, SlowRequestLog

log = logging.getLogger("folio.slow")
KEY = "folio:slow-requests"
_FAILURES = FAILURES
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(SlowRequest).decode


class ValkeySlowRequestLog(SlowRequestLog):
    def __init__(self, client: avalkey.Valkey | ValkeyCluster, key: str = KEY) -> None:
        self._client = client
        self._key = key

    async def record(self, request: SlowRequest) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:  # one key: in order on one connection
                pipe.lpush(self._key, _encode(request))
                pipe.ltrim(self._key, 0, KEPT - 1)
                await pipe.execute()
        except _FAILURES as e:
            log.warning("slow request not kept for the console: %s", type(e).__name__)

    async def recent(self) -> tuple[SlowRequest, ...]:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.lrange(self._key, 0, KEPT - 1)
                (raw,) = await pipe.execute()
        except _FAILURES as e:
            raise UnavailableError(f"the slow requests are not readable ({type(e).__name__})") from e
        found = []
        for item in raw:
            try:
                found.append(_decode(item))
            except msgspec.DecodeError:
                continue  # written by another version: skip it rather than fail the panel
        return tuple(found)
