"""What this process knows is revoked, kept so that checking a cached credential is one dict lookup.

`not_before` maps an actor (`user:<id>` for a user's tokens, `apikey:<id>` for a key) to the epoch
second before which its credentials were issued in vain: a user's session watermark, or infinity for
a revoked key. It learns from three sources:

- the invalidation channel, as every process's revocation is acknowledged (within the writer's wait);
- PostgreSQL, at least twice a second while the channel is not trusted (Valkey down, subscription
  lost) and once more after it is trusted again: every revocation since the last moment this
  process was known to be up to date, with a margin for transactions that committed late;
- PostgreSQL on the first token of a user this process sees (that user's watermark), so a process
  that starts after a revocation knows it too.

What it has learnt it never forgets while it runs: a revoked credential stays refused (fail closed)
even when the channel and the database are both gone.
"""

import asyncio
import logging
import time

from domain import timing
from domain.errors import UnavailableError
from domain.models.audit import SESSIONS_REVOKE, AuditEntry, user_target
from domain.models.invalidations import ApiKeyRevoked, Invalidation, Revocation, SessionsRevoked
from domain.ports.credentials import RevocationStore
from domain.ports.holdings import InvalidationBus

log = logging.getLogger("folio.revocations")

POLL_S = 0.25  # while the channel is not trusted: four reads a second, so a revocation lands within 0.5 s
# A revocation's timestamp is its transaction's start; one that commits later than a read still falls
# inside the next read's window. Also covers the trust window of a subscription that died unnoticed.
OVERLAP_S = 10.0
REVOKED = float("inf")


def user_actor(user_id: int) -> str:
    return f"user:{user_id}"


def key_actor(key_id: str) -> str:
    return f"apikey:{key_id}"


class RevocationWatch:
    """This process's knowledge of revocations, and the session revocation use case."""

    def __init__(
        self, store: RevocationStore, bus: InvalidationBus, *, poll_s: float = POLL_S, max_users: int = 100_000
    ) -> None:
        self._store = store
        self._bus = bus
        self._poll_s = poll_s
        self._max_users = max_users
        self.not_before: dict[str, float] = {}
        self._users_read: dict[int, None] = {}  # whose watermark was read from the store (oldest first)
        self._covered_at = time.monotonic()  # every revocation committed before this is known
        self._steady = False  # known up to date through a trusted channel since the last read
        self._losses = 0
        self._failing = False

    def revoked(self, actor: str, issued_at: float) -> bool:
        return issued_at < self.not_before.get(actor, 0.0)

    def apply(self, message: Invalidation) -> None:
        if isinstance(message, ApiKeyRevoked):
            self.not_before[key_actor(message.key_id)] = REVOKED
        elif isinstance(message, SessionsRevoked):
            self._raise(user_actor(message.user_id), message.not_before)

    def lost(self) -> None:
        """The channel had a gap: read the store until it is trusted again, and once more after."""
        self._losses += 1
        self._steady = False

    def _raise(self, actor: str, not_before: float) -> None:
        if not_before > self.not_before.get(actor, 0.0):  # never lowered: messages may come in any order
            self.not_before[actor] = not_before

    async def know_user(self, user_id: int) -> None:
        """Make sure the user's watermark is known here (one read the first time); raises UnavailableError."""
        if user_id in self._users_read:
            return
        watermark = await self._store.tokens_not_before(user_id)
        if watermark is not None:
            self._raise(user_actor(user_id), watermark.timestamp())
        if len(self._users_read) >= self._max_users:
            del self._users_read[next(iter(self._users_read))]  # only the read goes: `not_before` keeps it
        self._users_read[user_id] = None

    async def announce(self, message: Revocation) -> None:
        """A revocation just committed: refuse it here at once, then everywhere before returning."""
        self.apply(message)
        start = time.perf_counter()
        await self._bus.broadcast(message)
        timing.add_cache(time.perf_counter() - start)  # waiting for every process's acknowledgement

    async def revoke_sessions(self, user_id: int, *, actor: str, request_id: str | None) -> float:
        """Invalidate every token issued to the user until now, on every process; the watermark (epoch s)."""
        audit = AuditEntry(
            actor=actor, action=SESSIONS_REVOKE, target=user_target(user_id), request_id=request_id, change={}
        )
        watermark = (await self._store.revoke_sessions(user_id, audit=audit)).timestamp()
        await self.announce(SessionsRevoked(user_id=user_id, not_before=watermark))
        return watermark

    async def forget_user(self, user_id: int) -> None:
        """An erasure has committed (it revoked the user's keys and tokens): refuse them on every process."""
        for message in await self._store.revocations_of(user_id):
            await self.announce(message)

    async def run(self) -> None:
        """Until cancelled: read the store whenever the channel may have missed something."""
        while True:
            await asyncio.sleep(self._poll_s)
            await self.catch_up()

    async def catch_up(self) -> None:
        """One turn of `run`: nothing while the channel is trusted and was so at the last turn, else a read."""
        now = time.monotonic()
        trusted = self._bus.trusted()
        if trusted and self._steady:
            self._covered_at = now
            return
        losses = self._losses
        try:
            revocations = await self._store.revoked_within(now - self._covered_at + OVERLAP_S)
        except UnavailableError as e:
            if not self._failing:
                log.warning("revocations cannot be re-read (%s); what is known stays refused", e.detail)
            self._failing = True
            return
        if self._failing:
            log.warning("revocations re-read again")
        self._failing = False
        for message in revocations:
            self.apply(message)
        self._covered_at = now
        self._steady = trusted and losses == self._losses
