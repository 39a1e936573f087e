"""Invalidations to every process over Valkey pub/sub, acknowledged, with a heartbeat.

On a Valkey Cluster the bus is one sharded channel (SPUBLISH/SSUBSCRIBE), its acknowledgement channels under
the same hash tag, so a listener subscribes to both on the one primary that owns them.

A process trusts its in-process cache only while its subscription is provably alive (a PING
answered within the trust window). A writer waits for every subscriber's acknowledgement; if it
cannot publish at all, it waits out the trust window instead, after which no process that might
have missed the message still trusts its local copy. Either way a read that follows an
acknowledged write never sees the old holdings, nor a revoked credential accepted.

On the wire a message is `<body> <nonce> <origin>`. A holdings invalidation's body is the user id, as
it always was, so processes of the previous release and this one understand each other's during a
rolling deploy; the other messages' body is their msgspec JSON (tagged by `type`), which has no spaces.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable

import msgspec

from domain.adapters.valkey import FAILURES, PubSubRoute, raise_if_cancelled
from domain.models.invalidations import HoldingsChanged, Invalidation
from domain.ports.holdings import InvalidationBus

log = logging.getLogger("folio.bus")

CHANNEL = "folio:invalidate"
SHARDED_CHANNEL = "folio:{bus}:invalidate"  # on a cluster: the acks' channels share its slot
_FAILURES = FAILURES
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Invalidation)


def encode_body(message: Invalidation) -> str:
    if isinstance(message, HoldingsChanged):
        return str(message.user_id)
    return _encoder.encode(message).decode()


def decode_body(body: str) -> Invalidation:
    """The message of a body; raises ValueError (msgspec's errors are ValueErrors) for anything else."""
    if body.startswith("{"):
        return _decoder.decode(body)
    return HoldingsChanged(user_id=int(body))


class _Acks:
    def __init__(self) -> None:
        self.expected: int | None = None
        self.received = 0
        self.done = asyncio.Event()

    def check(self) -> None:
        if self.expected is not None and self.received >= self.expected:
            self.done.set()


class ValkeyInvalidationBus(InvalidationBus):
    def __init__(self, route: PubSubRoute, *, heartbeat_s: float, ack_timeout_s: float) -> None:
        self._route = route
        self._channel = SHARDED_CHANNEL if route.sharded else CHANNEL
        self._heartbeat_s = heartbeat_s
        self._trust_s = heartbeat_s * 3
        self._ack_timeout_s = ack_timeout_s
        self._origin = uuid.uuid4().hex[:16]
        self._ack_channel = f"{self._channel}:ack:{self._origin}"
        self._acks: dict[str, _Acks] = {}
        self._alive_at = float("-inf")

    def trusted(self) -> bool:
        return time.monotonic() - self._alive_at < self._trust_s

    async def broadcast(self, message: Invalidation) -> None:
        nonce = uuid.uuid4().hex
        acks = self._acks[nonce] = _Acks()
        try:
            body = f"{encode_body(message)} {nonce} {self._origin}"
            acks.expected = await self._route.publish(self._channel, body)
            acks.check()
            await asyncio.wait_for(acks.done.wait(), self._ack_timeout_s)
        except _FAILURES as e:
            if acks.expected is None:  # nothing went out: outwait every other process's trust window
                log.warning("invalidation %r not published (%s); waiting out the trust window", message, e)
                await asyncio.sleep(self._trust_s + self._heartbeat_s)
            else:
                log.warning("invalidation %r: %s of %s acks", message, acks.received, acks.expected)
        finally:
            del self._acks[nonce]

    async def listen(self, on_message: Callable[[Invalidation], None], on_lost: Callable[[], None]) -> None:
        backoff = self._heartbeat_s
        failed = False
        try:
            while True:
                raise_if_cancelled()
                try:
                    await self._subscribe_and_serve(on_message, refresh=failed)
                except _FAILURES as e:
                    failed = True
                    log.warning("invalidation bus lost (%s); local cache off until it is back", type(e).__name__)
                self._alive_at = float("-inf")
                on_lost()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
        finally:
            self._alive_at = float("-inf")  # stopped listening (cancelled): it hears nothing more from now on

    async def _subscribe_and_serve(self, on_message: Callable[[Invalidation], None], *, refresh: bool) -> None:
        client = await self._route.listener(self._channel, read_timeout_s=self._trust_s, refresh=refresh)
        pubsub = client.pubsub()
        try:
            await self._route.subscribe(pubsub, self._channel, self._ack_channel)
            next_ping = 0.0
            while True:
                raise_if_cancelled()
                now = time.monotonic()
                if now >= next_ping:
                    await pubsub.ping()
                    next_ping = now + self._heartbeat_s
                message = await pubsub.get_message(timeout=self._heartbeat_s)
                if message is not None:
                    await self._handle(message, on_message)
                elif time.monotonic() - self._alive_at > self._trust_s and self._alive_at > 0:
                    raise TimeoutError("no heartbeat from the invalidation bus")
        finally:
            # Bounded: closing a connection that a cancelled read left behind must not hang a shutdown.
            with contextlib.suppress(*_FAILURES):
                await asyncio.wait_for(pubsub.aclose(), self._trust_s)  # type: ignore[no-untyped-call]
                await asyncio.wait_for(client.aclose(), self._trust_s)

    async def _handle(self, message: dict[str, object], on_message: Callable[[Invalidation], None]) -> None:
        kind = message.get("type")
        if kind == "pong" or kind == self._route.subscribe_type:
            self._alive_at = time.monotonic()
            return
        if kind == "sunsubscribe":  # the cluster moved the channel's slot: subscribe where it is now
            raise ConnectionError("the invalidation channel moved to another node")
        if kind != self._route.message_type:
            return
        data = message.get("data")
        text = data.decode() if isinstance(data, bytes) else str(data)
        if message.get("channel") in (self._ack_channel, self._ack_channel.encode()):
            acks = self._acks.get(text)
            if acks is not None:
                acks.received += 1
                acks.check()
            return
        body, nonce, origin = ["", "", "", *text.rsplit(" ", 2)][-3:]
        try:
            on_message(decode_body(body))
        except ValueError:  # msgspec's errors are ValueErrors too
            log.warning("invalidation message not understood: %.200s", text)  # a later release's, say
        if origin == self._origin:
            # This process's own message, heard and applied: its acknowledgement needs no round trip.
            if (acks := self._acks.get(nonce)) is not None:
                acks.received += 1
                acks.check()
        elif origin:
            await self._route.publish(f"{self._channel}:ack:{origin}", nonce)
