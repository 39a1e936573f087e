"""Rate limits in fixed one-minute windows: decided in process, reconciled with a shared store in batches.

Each process counts what it admits and sends its counts to the store (one increment per key)
every `sync_s`, or at once when a key has `batch` admissions the store has not confirmed; the
store answers with the global count, which every later decision uses. A key with `batch`
unconfirmed admissions waits for that round trip, so N processes admit at most (N - 1) * batch
beyond a limit, and a request costs a dict lookup unless it is the one that fills a batch.
When the store is down, each process goes on counting alone, so a limit holds per process
(fail open) and the outage is logged once, not per request.
"""

import asyncio
import hashlib
import logging
import math

from domain.errors import UnavailableError
from domain.ports.clock import Clock
from domain.ports.rate_limits import RateLimitStore

log = logging.getLogger("folio.rate_limit")

WINDOW_S = 60


class _Entry:
    __slots__ = ("confirmed", "digest", "key", "pending", "sending", "window")

    def __init__(self, key: str, window: int) -> None:
        self.key = key
        self.digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()  # the store never sees a token
        self.window = window
        self.confirmed = 0  # the global count last heard from the store, this process's sent ones included
        self.pending = 0  # admitted here, not sent yet
        self.sending = 0  # sent, answer not back yet


class RateLimiter:
    """`await admit(key, limit)`: 0 lets the request through, otherwise the seconds until the window ends."""

    def __init__(
        self,
        store: RateLimitStore | None,
        *,
        sync_s: float,
        overshoot_pct: float,
        max_keys: int,
        clock: Clock,
    ) -> None:
        self._store = store
        self._sync_s = sync_s
        self._share = overshoot_pct / 100
        self._max_keys = max_keys
        self._clock = clock  # wall time: every process must agree on where a window starts
        self._entries: dict[str, _Entry] = {}
        self._dirty: dict[str, _Entry] = {}
        self._sync: asyncio.Task[None] | None = None
        self._batches: dict[int, int] = {}
        self.degraded = False

    def decide(self, key: str, limit: int) -> int | None:
        """The in-process decision: 0 admits, a positive number is the Retry-After, None means
        this key's batch is full and the caller must `await admit(...)` (one round trip)."""
        now = self._clock.time()
        window = int(now // WINDOW_S)
        entry = self._entries.get(key)
        if entry is None or entry.window != window:
            entry = self._fresh(key, window, entry)
        used = entry.pending + entry.sending
        if used >= self._batch(limit) and self._store is not None and not self.degraded:
            return None
        if entry.confirmed + used >= limit:
            return max(1, math.ceil((window + 1) * WINDOW_S - now))
        entry.pending += 1
        self._dirty[key] = entry
        return 0

    async def admit(self, key: str, limit: int) -> int:
        """`decide`, waiting for the store's answer when this key's batch is full."""
        verdict = self.decide(key, limit)
        while verdict is None:
            window = self._entries[key].window
            await self.sync()  # the one request in a batch that pays a round trip
            verdict = self.decide(key, limit)
            if verdict is None and self._entries[key].window != window:
                break
        return verdict if verdict is not None else 0

    def _batch(self, limit: int) -> int:
        batch = self._batches.get(limit)
        if batch is None:
            batch = self._batches[limit] = max(1, int(limit * self._share))
        return batch

    def sync(self) -> asyncio.Task[None]:
        """Send the pending counts now (or join the send under way); awaitable."""
        if self._sync is None or self._sync.done():
            self._sync = asyncio.create_task(self._send())
        return self._sync

    async def run(self) -> None:
        """Send pending counts every `sync_s`, for the life of the process."""
        while True:
            await asyncio.sleep(self._sync_s)
            if self._dirty and self._store is not None:
                try:
                    await self.sync()
                except Exception:
                    log.exception("rate-limit sync failed")

    def _fresh(self, key: str, window: int, old: _Entry | None) -> _Entry:
        if old is None:
            if len(self._entries) >= self._max_keys:
                self._prune(window)
            old = self._entries[key] = _Entry(key, window)
            return old
        old.window, old.confirmed, old.pending, old.sending = window, 0, 0, 0
        return old

    def _prune(self, window: int) -> None:
        stale = [k for k, e in self._entries.items() if e.window != window]
        if len(self._entries) - len(stale) >= self._max_keys:
            stale += list(self._entries)[: self._max_keys // 10 or 1]  # the oldest keys, as a last resort
        for key in stale:
            self._entries.pop(key, None)
            self._dirty.pop(key, None)

    async def _send(self) -> None:
        if self._store is None or not self._dirty:
            return
        batch = [(e, e.window, e.pending) for e in self._dirty.values()]
        self._dirty = {}
        for entry, _, sent in batch:
            entry.pending -= sent
            entry.sending += sent
        try:
            totals = await self._store.add([(e.digest, w, n) for e, w, n in batch], WINDOW_S + 5)
        except UnavailableError as e:
            self._settle(batch, None)
            if not self.degraded:
                self.degraded = True
                log.warning("rate limits counted per process until the store is back (fail open): %s", e.detail)
            return
        self._settle(batch, totals)
        if self.degraded:
            self.degraded = False
            log.warning("rate-limit store is back: limits are shared across processes again")

    def _settle(self, batch: list[tuple[_Entry, int, int]], totals: list[int] | None) -> None:
        for i, (entry, window, sent) in enumerate(batch):
            if entry.window != window:
                continue  # the window rolled over while the counts were on their way
            entry.sending -= sent
            if totals is None:
                entry.pending += sent  # counted locally; sent again with the next batch
                self._dirty[entry.key] = entry
            else:
                entry.confirmed = max(entry.confirmed, totals[i])
