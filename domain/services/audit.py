"""The audit trail: operators page it, `verify` walks the chain, and operators' reads are recorded in batches."""

import asyncio
import contextlib
import itertools
import logging
from collections import deque

from domain.errors import UnavailableError
from domain.models.audit import GENESIS, USER_READ, Actor, AuditEntry, AuditPage, AuditQuery, ChainCheck, first_break
from domain.ports.audit import AuditLog
from domain.ports.clock import Clock

log = logging.getLogger("folio.audit")

MAX_PAGE = 500
VERIFY_BATCH = 5_000


class AuditTrail:
    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def page(self, query: AuditQuery, *, limit: int = 50, before: int | None = None) -> AuditPage:
        return await self._log.page(query, limit=min(max(limit, 1), MAX_PAGE), before=before)

    async def verify(self, *, batch: int = VERIFY_BATCH) -> ChainCheck:
        """Walk the whole chain, oldest first, `batch` entries at a time; stop at the first broken link."""
        prev, after, checked = GENESIS, 0, 0
        while records := await self._log.walk(after=after, limit=batch):
            broken = first_break(records, prev)
            if broken is not None:
                record, reason = broken
                return ChainCheck(checked=checked + records.index(record), broken_at=record.id, reason=reason)
            checked += len(records)
            prev, after = records[-1].hash, records[-1].id
        return ChainCheck(checked=checked)


class ReadRecorder:
    """Operators' reads of users' data, recorded off the request's path: `record` only queues the entry (with
    the time of the read); `run` appends the queue in batches, each chained as any entry is.

    While the database does not answer, entries wait (at most `max_pending`; beyond that the newest are
    dropped and counted in `dropped`, with an error in the log). `flush` at shutdown appends what is left.
    """

    def __init__(
        self,
        log: AuditLog,
        clock: Clock,
        *,
        interval_s: float = 0.5,
        max_batch: int = 1_000,
        max_pending: int = 100_000,
    ) -> None:
        self._log = log
        self._clock = clock
        self._interval_s = interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: deque[AuditEntry] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.dropped = 0

    def record(self, actor: Actor, target: str, what: str) -> None:
        """Queue one read of `target`'s data (`what`: the route read, such as `GET /api/users/42`)."""
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1_000 == 0:
                log.error("audit: %d operator reads not recorded: the queue is full", self.dropped)
            return
        entry = AuditEntry(
            actor=actor.name,
            action=USER_READ,
            target=target,
            request_id=actor.request_id,
            change={"read": what},
            at=self._clock.now(),
        )
        self._pending.append(entry)
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> int:
        """Append what is queued, in batches; returns how many were appended (the rest waits for the next try)."""
        appended = 0
        async with self._lock:
            while self._pending:
                batch = list(itertools.islice(self._pending, self._max_batch))
                try:
                    await self._log.append(batch)
                except UnavailableError as e:
                    log.warning("audit: %d operator reads wait: %s", len(self._pending), e.detail)
                    break
                for _ in batch:
                    self._pending.popleft()
                appended += len(batch)
        return appended
