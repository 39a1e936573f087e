"""The holdings cache on Valkey: msgpack bytes, versioned keys, guarded fills, a fill lease.

Keys of one user share a hash tag (`folio:{u42}:...`), so the scripts run on a Valkey Cluster too.
Every failure degrades to a miss; invalidations that could not be delivered are replayed first
when the cache comes back, before anything is read from it again.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec

from domain import timing
from domain.adapters.breaker import CircuitBreaker
from domain.adapters.valkey import FAILURES, ValkeyClient, register_script
from domain.models.holdings import FillTicket, Holdings
from domain.ports.holdings import HoldingsCache

log = logging.getLogger("folio.cache")
T = TypeVar("T")

SCHEMA = "v2"  # bump when Holdings changes incompatibly
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Holdings)

# Store only if the user's version is still the one seen at the miss ('' = no version yet).
_FILL = """
local v = redis.call('GET', KEYS[2])
if (v or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
# A new version makes every fill that began earlier fail, and the entry goes.
_INVALIDATE = """
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
# A miss's first round trip: the entry and its version, and on a miss the fill lease ('' = absent).
_READ_OR_LEAD = """
local v = redis.call('MGET', KEYS[1], KEYS[2])
if v[1] then
  return {v[1], v[2] or '', 0}
end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'', v[2] or '', 1}
end
return {'', v[2] or '', 0}
"""
# A leader's last round trip: the guarded fill (as _FILL; '' = nothing to store), then its lease back.
_FILL_AND_END = """
local stored = 0
if ARGV[2] ~= '' and (redis.call('GET', KEYS[2]) or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  stored = 1
end
if redis.call('GET', KEYS[3]) == ARGV[4] then
  redis.call('DEL', KEYS[3])
end
return stored
"""
_FAILURES = FAILURES


def holdings_key(user_id: int) -> str:
    return f"folio:{{u{user_id}}}:holdings:{SCHEMA}"


def _version_key(user_id: int) -> str:
    return f"folio:{{u{user_id}}}:hver"


def _lease_key(user_id: int) -> str:
    return f"folio:{{u{user_id}}}:fill"


class ValkeyHoldingsCache(HoldingsCache):
    def __init__(
        self,
        client: ValkeyClient,
        breaker: CircuitBreaker,
        *,
        ttl_s: int,
        fill_wait_s: float = 3.0,
        poll_s: float = 0.005,
    ) -> None:
        self._client = client
        self._breaker = breaker
        self._ttl_ms = ttl_s * 1000
        # The lease outlives the waiters' patience: a waiter gives up only when the leader is gone
        # (lease released without a fill) or has had all the time a database deadline allows.
        self._lease_ms = int(fill_wait_s * 1000)
        self._fill_wait_s = fill_wait_s
        self._poll_s = poll_s
        self._token = uuid.uuid4().hex
        self._fill = register_script(client, _FILL)
        self._invalidate = register_script(client, _INVALIDATE)
        self._release = register_script(client, _RELEASE)
        self._read_or_lead = register_script(client, _READ_OR_LEAD)
        self._fill_and_end = register_script(client, _FILL_AND_END)
        self._undelivered: set[int] = set()

    async def _call(self, operation: str, op: Callable[[], Awaitable[T]], fallback: T) -> T:
        if not self._breaker.allow():
            return fallback
        start = time.perf_counter()
        try:
            result = await op()
        except _FAILURES as e:
            self._breaker.failed(e, operation)
            return fallback
        finally:
            timing.add_cache(time.perf_counter() - start)  # the request's Server-Timing
        if self._breaker.succeeded() or self._undelivered:
            await self._replay()
        return result

    async def _replay(self) -> None:
        # The cache is back: first deliver the invalidations it missed, so it serves nothing stale.
        pending, self._undelivered = self._undelivered, set()
        for user_id in pending:
            if not await self._try_invalidate(user_id):
                self._undelivered |= pending
                return

    async def fill(self, ticket: FillTicket, holdings: Holdings) -> bool:
        if not ticket.usable:
            return False
        keys = [holdings_key(ticket.user_id), _version_key(ticket.user_id)]
        args: list[bytes | int] = [ticket.version or b"", _encoder.encode(holdings), self._ttl_ms]
        stored = await self._call("holdings.fill", lambda: self._fill(keys=keys, args=args), 0)
        return bool(stored)

    async def invalidate(self, user_id: int) -> None:
        if not await self._try_invalidate(user_id):
            self._undelivered.add(user_id)
            log.warning("cache invalidation for user %s deferred: cache unavailable", user_id)

    async def _try_invalidate(self, user_id: int) -> bool:
        keys = [holdings_key(user_id), _version_key(user_id)]
        done = await self._call("holdings.invalidate", lambda: self._invalidate(keys=keys, args=[self._ttl_ms * 2]), 0)
        return bool(done)

    async def end_fill(self, user_id: int) -> None:
        await self._call("holdings.release", lambda: self._release(keys=[_lease_key(user_id)], args=[self._token]), 0)

    async def read_or_lead(self, user_id: int) -> tuple[Holdings | None, FillTicket, bool]:
        if self._undelivered and user_id in self._undelivered:
            return None, FillTicket(user_id=user_id, usable=False), True
        keys = [holdings_key(user_id), _version_key(user_id), _lease_key(user_id)]
        args: list[str | int] = [self._token, self._lease_ms]
        values = await self._call("holdings.read", lambda: self._read_or_lead(keys=keys, args=args), None)
        if values is None:  # the cache is down: load from the repository, fill nothing
            return None, FillTicket(user_id=user_id, usable=False), True
        raw, version, leads = values
        ticket = FillTicket(user_id=user_id, version=version or b"")
        if not raw:
            return None, ticket, bool(leads)
        try:
            return _decoder.decode(raw), ticket, False
        except msgspec.DecodeError:
            log.warning("undecodable cache entry for user %s dropped", user_id)
            return None, ticket, bool(leads)

    async def fill_and_end(self, ticket: FillTicket, holdings: Holdings | None) -> bool:
        if not ticket.usable:
            return False
        user_id = ticket.user_id
        keys = [holdings_key(user_id), _version_key(user_id), _lease_key(user_id)]
        payload = _encoder.encode(holdings) if holdings is not None else b""
        args: list[bytes | str | int] = [ticket.version or b"", payload, self._ttl_ms, self._token]
        stored = await self._call("holdings.fill", lambda: self._fill_and_end(keys=keys, args=args), 0)
        return bool(stored)

    async def await_fill(self, user_id: int) -> Holdings | None:
        deadline = time.monotonic() + self._fill_wait_s
        keys = (holdings_key(user_id), _lease_key(user_id))
        while time.monotonic() < deadline:
            await asyncio.sleep(self._poll_s)
            values = await self._call("holdings.await_fill", lambda: self._client.mget(keys), None)
            if values is None:
                return None
            raw, lease = values
            if raw is not None:
                return _decoder.decode(raw)
            if lease is None:  # the leader gave up or could not store: load it ourselves
                return None
        return None
