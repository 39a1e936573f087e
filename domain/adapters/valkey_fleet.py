"""The fleet registry on Valkey: one key per process with its own expiry, and an index to list them.

Layout, per process type (one hash tag per type, so every command stays in one slot on a Cluster):
* `folio:{fleet:web}:p:<instance>:<pid>`: the process's latest sample (msgpack), SET with PX = TTL.
  Valkey's expiry decides who is live, so a killed process drops out without anyone cleaning up.
* `folio:{fleet:web}:members`: a sorted set of `<instance>:<pid>` by last publish time, so a reader
  lists members without SCAN (never on a hot path, never across slots), then MGETs their keys; a
  missing key means the process has gone. Publishers prune members silent for several TTLs.
* `folio:{fleet:web}:lead`: SET NX PX, the claim on the next scaling computation.
* `folio:{fleet:web}:scaler`: the scaler's state and latest decision (msgpack), read by every process.
Per-field expiry in a hash would be simpler, but it needs Valkey 9 (HSETEX); this runs on any version.
"""

import time

import msgspec

from domain.adapters.valkey import FAILURES, ValkeyClient
from domain.errors import UnavailableError
from domain.models.fleet import ProcessSample
from domain.ports.fleet import FleetRegistry
from domain.scaling import ScalerRecord

_FAILURES = FAILURES
PRUNE_AFTER_TTLS = 4  # an index member silent this many TTLs is removed by the next publisher
RECORD_TTL_S = 7 * 24 * 3600  # a fleet that stopped a week ago starts with a fresh scaler
_SAMPLE = msgspec.msgpack.Decoder(ProcessSample)
_RECORD = msgspec.msgpack.Decoder(ScalerRecord)
_ENCODER = msgspec.msgpack.Encoder()


def _key(process: str, suffix: str) -> str:
    return f"folio:{{fleet:{process}}}:{suffix}"


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


class ValkeyFleetRegistry(FleetRegistry):
    def __init__(self, client: ValkeyClient) -> None:
        self._client = client

    async def publish(self, sample: ProcessSample, ttl_s: float) -> None:
        member = f"{sample.instance}:{sample.pid}"
        index = _key(sample.process, "members")
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.set(_key(sample.process, f"p:{member}"), _ENCODER.encode(sample), px=_ms(ttl_s))
                pipe.zremrangebyscore(index, "-inf", time.time() - PRUNE_AFTER_TTLS * ttl_s)
                pipe.zadd(index, {member: time.time()})
                pipe.pexpire(index, _ms(PRUNE_AFTER_TTLS * ttl_s))
                await pipe.execute()
        except _FAILURES as e:
            raise _unavailable(e) from e

    async def live(self, process: str) -> list[ProcessSample]:
        try:
            members = await self._client.zrange(_key(process, "members"), 0, -1)
            if not members:
                return []
            values = await self._client.mget([_key(process, f"p:{m.decode()}") for m in members])
        except _FAILURES as e:
            raise _unavailable(e) from e
        return [_SAMPLE.decode(v) for v in values if v is not None]

    async def lead(self, process: str, holder: str, hold_s: float) -> bool:
        try:
            return bool(await self._client.set(_key(process, "lead"), holder, px=_ms(hold_s), nx=True))
        except _FAILURES as e:
            raise _unavailable(e) from e

    async def load(self, process: str) -> ScalerRecord | None:
        try:
            stored = await self._client.get(_key(process, "scaler"))
        except _FAILURES as e:
            raise _unavailable(e) from e
        return None if stored is None else _RECORD.decode(stored)

    async def save(self, process: str, record: ScalerRecord) -> None:
        try:
            await self._client.set(_key(process, "scaler"), _ENCODER.encode(record), ex=RECORD_TTL_S)
        except _FAILURES as e:
            raise _unavailable(e) from e


def _unavailable(e: BaseException) -> UnavailableError:
    return UnavailableError(f"the fleet registry is not answering ({type(e).__name__})")
