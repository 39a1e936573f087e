"""Live portfolio streams: one hub per process, fed by the process's existing subscriptions.

The quote book tells the hub when a new snapshot is held, and the invalidation channel when a user's
holdings changed (a trade or a cash booking, anywhere). The hub values each user with open streams
once per change, encodes the event once, and offers the same bytes to all of that user's streams.
Quote moves are coalesced to one round per `min_interval_s`; a user's own change is sent at once.
"""

import asyncio
import contextlib
import itertools
import logging
import time

from domain.errors import DomainError, StreamsDrainingError, TooManyStreamsError
from domain.models.holdings import Holdings
from domain.models.invalidations import HoldingsChanged, Invalidation
from domain.models.quotes import QuoteSnapshot
from domain.services.portfolios import PortfolioService
from domain.services.streams.frames import Valued, moved_instruments, retry_frame, value
from domain.services.streams.subscriber import HEARTBEAT, Subscriber
from domain.services.streams.wire import JsonPortfolioWire

log = logging.getLogger("folio.streams")

READS_AT_ONCE = 16  # holdings read concurrently when users changed (well inside the database pool)
YIELD_EVERY = 32  # users valued between turns of the event loop, so streams are written while a round runs
# Users read afresh per turn after a loss of the invalidations (that is every user): the quote rounds and the
# users' own changes go in between, rather than waiting seconds for all of them.
RESYNC_PER_TURN = 256


class StreamLimits:
    __slots__ = ("heartbeat_s", "max_per_process", "max_per_user", "min_interval_s", "retry_ms", "stall_s")

    def __init__(
        self,
        *,
        min_interval_s: float,
        heartbeat_s: float,
        retry_ms: int,
        max_per_user: int,
        max_per_process: int,
        stall_s: float,
    ) -> None:
        self.min_interval_s = min_interval_s
        self.heartbeat_s = heartbeat_s
        self.retry_ms = retry_ms
        self.max_per_user = max_per_user
        self.max_per_process = max_per_process
        self.stall_s = stall_s


class PortfolioStreams:
    """The process's open streams, grouped per user, and the one valued state each user shares."""

    def __init__(self, portfolios: PortfolioService, wire: JsonPortfolioWire, limits: StreamLimits) -> None:
        self._portfolios = portfolios
        self._wire = wire
        self.limits = limits
        self.retry = retry_frame(limits.retry_ms)
        self._streams: dict[int, set[Subscriber]] = {}
        self._valued: dict[int, Valued] = {}
        self._open = 0
        self._changed: set[int] = set()  # users whose holdings changed: sent at once
        self._resync: set[int] = set()  # users whose changes may have been missed: read afresh, a share per turn
        self._quotes_moved = False
        self._next_round = 0.0  # monotonic: quote moves are not sent before this
        self._round_snapshot: QuoteSnapshot | None = None  # the snapshot the last round valued at
        self._wake = asyncio.Event()
        self.draining = False

    @property
    def open_streams(self) -> int:
        return self._open

    async def open(self, user_id: int, last_event_id: str | None = None) -> Subscriber:
        """Register a stream and queue its first event: the current state, unless `last_event_id` is it.

        Raises TooManyStreamsError past a cap, StreamsDrainingError once draining, and the portfolio
        read's errors (UserNotFoundError, UnavailableError).
        """
        if self.draining:
            raise StreamsDrainingError
        streams = self._streams.get(user_id)
        if streams is not None and len(streams) >= self.limits.max_per_user:
            raise TooManyStreamsError(f"at most {self.limits.max_per_user} open streams per user")
        if self._open >= self.limits.max_per_process:
            raise TooManyStreamsError("this instance holds as many streams as it may: try again shortly")
        subscriber = Subscriber(user_id)
        subscriber.task = asyncio.current_task()
        self._streams.setdefault(user_id, set()).add(subscriber)
        self._open += 1
        try:
            valued = self._valued.get(user_id) or await self._revalue(user_id)
        except BaseException:
            self.close(subscriber)
            raise
        if valued.event_id != last_event_id:
            if valued.frame is None:  # sent already and let go: encode the state again for this stream
                snapshot = self._portfolios.snapshot()
                valued = self._valued[user_id] = value(valued.holdings, snapshot, self._wire, valued)
            subscriber.offer(valued.frame or b"")
            valued.frame = None
        return subscriber

    def close(self, subscriber: Subscriber) -> None:
        """Forget a stream that ended (the client left, it stalled, or the process drains)."""
        subscriber.close()
        streams = self._streams.get(subscriber.user_id)
        if streams is None or subscriber not in streams:
            return
        streams.discard(subscriber)
        self._open -= 1
        if not streams:
            del self._streams[subscriber.user_id]
            self._valued.pop(subscriber.user_id, None)

    def drain(self) -> None:
        """End every stream with a `retry:` hint, so its client reconnects (to another instance)."""
        self.draining = True
        for streams in list(self._streams.values()):
            for subscriber in list(streams):
                subscriber.close(self.retry)

    # Hooks: the quote book's listener and an invalidation consumer (one subscription per process each).
    def quotes_changed(self, snapshot: QuoteSnapshot) -> None:
        self._quotes_moved = True
        self._wake.set()

    def apply(self, message: Invalidation) -> None:
        if isinstance(message, HoldingsChanged) and message.user_id in self._streams:
            self._changed.add(message.user_id)
            self._wake.set()

    def lost(self) -> None:
        """Invalidations may have been missed: value everyone again from freshly read holdings (a share per turn)."""
        self._resync.update(self._streams)
        self._wake.set()

    async def run(self) -> None:
        """Send changes until cancelled: users' own changes at once, quote moves at most once per interval."""
        while True:
            timeout = None
            if self._resync:
                timeout = 0.0
            elif self._quotes_moved:
                timeout = max(0.0, self._next_round - time.monotonic())
            if timeout != 0.0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            if self._changed:
                changed, self._changed = self._changed, set()
                await self._send_changed(changed)
            if self._quotes_moved and time.monotonic() >= self._next_round:
                self._quotes_moved = False
                self._next_round = time.monotonic() + self.limits.min_interval_s
                await self._quote_round()
            if self._resync:
                share = set(itertools.islice(self._resync, RESYNC_PER_TURN))
                self._resync -= share
                await self._send_changed(share)

    async def heartbeats(self) -> None:
        """A comment on every idle stream each `heartbeat_s` (keeps proxies open); end stalled streams."""
        while True:
            await asyncio.sleep(self.limits.heartbeat_s)
            now = time.monotonic()
            for streams in list(self._streams.values()):
                for subscriber in list(streams):
                    if subscriber.stalled(now, self.limits.stall_s):
                        self._end_stalled(subscriber)
                    else:
                        subscriber.offer(HEARTBEAT)

    def _end_stalled(self, subscriber: Subscriber) -> None:
        log.info("stream of user %d ended: its client took no event for %.0fs", subscriber.user_id, self.limits.stall_s)
        self.close(subscriber)
        if subscriber.task is not None:
            subscriber.task.cancel()  # its write is stuck: only cancelling frees the connection

    async def _send_changed(self, users: set[int]) -> None:
        """Read the users' holdings afresh and send what changed, a few reads at a time (so the pool is not
        drained)."""
        pending = [user_id for user_id in users if user_id in self._streams]
        for start in range(0, len(pending), READS_AT_ONCE):
            await asyncio.gather(*(self._send_fresh(user_id) for user_id in pending[start : start + READS_AT_ONCE]))

    async def _send_fresh(self, user_id: int) -> None:
        before = self._valued.get(user_id)
        try:
            valued = await self._revalue(user_id)
        except DomainError as e:
            log.warning("stream of user %d not updated: %s", user_id, e.detail)
            return
        if before is None or valued.event_id != before.event_id:
            self._offer(user_id, valued)

    async def _quote_round(self) -> None:
        """Value again, at the new snapshot, every user whose holdings' quotes moved since the last round.

        No I/O: the hub holds each user's holdings, and hears through the invalidations when they change
        (those users are read afresh by `_send_changed`, and all of them when invalidations were lost).
        """
        snapshot = self._portfolios.snapshot()
        previous, self._round_snapshot = self._round_snapshot, snapshot
        moved = None if previous is None else moved_instruments(previous, snapshot)
        since = -1 if previous is None else previous.version
        valued_here = 0
        for user_id in list(self._valued):
            before = self._valued.get(user_id)
            if before is None or before.version == snapshot.version:
                continue
            if moved is not None and before.version >= since:  # valued at the last round's snapshot or later
                if not before.moved_by(moved):
                    before.version = snapshot.version  # unchanged at this snapshot: no event
                    continue
                before.advance(snapshot, moved, self._wire)  # only the moved lines are valued again
                valued = before
            else:
                self._valued[user_id] = valued = value(before.holdings, snapshot, self._wire, before)
            self._offer(user_id, valued)
            valued_here += 1
            if valued_here % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # the streams valued so far are written meanwhile

    def _offer(self, user_id: int, valued: Valued) -> None:
        """Hand the frame to the user's streams and let go of it: it lives until the last of them has written it."""
        for subscriber in self._streams.get(user_id, ()):
            subscriber.offer(valued.frame or b"")
        valued.frame = None

    async def _revalue(self, user_id: int) -> Valued:
        """The user's state from freshly read holdings at the current snapshot (the held one if equal)."""
        holdings = await self._holdings(user_id)
        snapshot = self._portfolios.snapshot()
        before = self._valued.get(user_id)
        if before is not None and before.version == snapshot.version and before.same_holdings(holdings):
            return before
        valued = value(holdings, snapshot, self._wire, before)
        if self._round_snapshot is None:
            self._round_snapshot = snapshot  # what the next quote round compares its snapshot with
        if user_id in self._streams:  # the stream may have ended while the holdings were read
            self._valued[user_id] = valued
        return valued

    async def _holdings(self, user_id: int) -> Holdings:
        cached = self._portfolios.cached(user_id)
        if cached is not None:
            return cached
        holdings, _ = await self._portfolios.holdings(user_id)
        return holdings
