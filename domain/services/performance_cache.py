"""The performance answers a process keeps, as rendered bodies, and when one may be answered without a read.

An entry is kept with the history version it was computed under (the last close, the user's latest ledger entry
and trade). A user's trades and ledger entries are announced on the invalidation channel (every booking drops
the user's holdings everywhere before it is acknowledged), so while the channel is trusted and nothing was
announced for the user since, only a close can have changed the answer: an entry confirmed less than `trust_s`
ago is answered as it is, without a read. Past that, or when the channel cannot be trusted, a hit costs the
version read it always did; a close shows in cached answers at most `trust_s` after it is recorded.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from domain.models.invalidations import HoldingsChanged, Invalidation
from domain.models.performance import HistoryVersion
from domain.ports.holdings import InvalidationBus

TRUST_S = 1.0
AnswerKey = tuple[int, str, str | None, date]  # user, period, benchmark, today
Ticket = tuple[int, int]  # the user's announcement count and the channel's epoch, taken before a version read


@dataclass
class _Entry:
    version: HistoryVersion
    body: bytes
    checked: float  # monotonic seconds of the last version read that confirmed it
    ticket: Ticket


class AnswerCache:
    def __init__(
        self,
        size: int,
        bus: InvalidationBus | None = None,
        *,
        trust_s: float = TRUST_S,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size  # 0: nothing kept
        self._bus = bus  # None: every hit is confirmed by a version read
        self._trust_s = trust_s
        self._now = now
        self._entries: OrderedDict[AnswerKey, _Entry] = OrderedDict()
        self._announced: dict[int, int] = {}
        self._epoch = 0

    def ticket(self, user_id: int) -> Ticket:
        """Take before reading the version: an announcement after it makes the entry unconfirmed again."""
        return self._announced.get(user_id, 0), self._epoch

    def fresh(self, key: AnswerKey) -> bytes | None:
        """The body, if it may be answered without a read (see the module's docstring)."""
        entry = self._entries.get(key)
        if entry is None or self._bus is None or not self._bus.trusted():
            return None
        if entry.ticket != self.ticket(key[0]) or self._now() - entry.checked >= self._trust_s:
            return None
        self._entries.move_to_end(key)
        return entry.body

    def confirmed(self, key: AnswerKey, version: HistoryVersion, ticket: Ticket) -> bytes | None:
        """The body, if it was computed under `version` (just read, after `ticket` was taken)."""
        entry = self._entries.get(key)
        if entry is None or entry.version != version:
            return None
        entry.checked, entry.ticket = self._now(), ticket
        self._entries.move_to_end(key)
        return entry.body

    def put(self, key: AnswerKey, version: HistoryVersion, body: bytes, ticket: Ticket) -> None:
        self._entries[key] = _Entry(version, body, self._now(), ticket)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def apply(self, message: Invalidation) -> None:
        """A user's holdings changed somewhere (a trade, a ledger entry, an erasure): confirm theirs again."""
        if isinstance(message, HoldingsChanged):
            self._announced[message.user_id] = self._announced.get(message.user_id, 0) + 1

    def lost(self) -> None:
        """Announcements may have been missed: confirm every entry again."""
        self._epoch += 1
