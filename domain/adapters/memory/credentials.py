"""In-memory twins of the credential ports: API keys by user, and the revocation record, sharing one state."""

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

import msgspec

from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.clock import FixedClock
from domain.errors import ApiKeyLimitError, ApiKeyNotFoundError, ConflictError, UserNotFoundError
from domain.models.api_keys import ApiKey, NewApiKey, StoredApiKey
from domain.models.audit import AuditEntry, key_target
from domain.models.invalidations import ApiKeyRevoked, Revocation, SessionsRevoked
from domain.ports.clock import Clock
from domain.ports.credentials import ApiKeyStore, RevocationStore


class InMemoryCredentials:
    """The rows both twins read and write: users, their watermarks, keys with digests, the audit entries."""

    def __init__(self, clock: Clock | None = None, log: InMemoryAuditLog | None = None) -> None:
        self.clock = clock or FixedClock()
        self.log = log  # the audit log's twin, when a test reads the entries there too
        self.users: set[int] = set()
        self.not_before: dict[int, datetime] = {}
        self.keys: dict[str, StoredApiKey] = {}  # by id
        self.audit: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        self.audit.append(entry)
        if self.log is not None:
            self.log.record(entry)

    def add_user(self, user_id: int) -> None:
        self.users.add(user_id)

    def erase_user(self, user_id: int, now: datetime) -> None:
        """What erasing the user does to its credentials: every token and key it holds stops `now`."""
        self.not_before[user_id] = now
        for key_id, stored in self.keys.items():
            if stored.key.user_id == user_id and stored.key.revoked_at is None:
                revoked = msgspec.structs.replace(stored.key, revoked_at=now)
                self.keys[key_id] = msgspec.structs.replace(stored, key=revoked)


class InMemoryApiKeyStore(ApiKeyStore):
    def __init__(self, state: InMemoryCredentials) -> None:
        self.state = state

    async def create(self, key: NewApiKey, *, limit: int, audit: AuditEntry) -> ApiKey:
        state = self.state
        if key.user_id not in state.users:
            raise UserNotFoundError(key.user_id)
        if len(await self.list(key.user_id)) >= limit:
            raise ApiKeyLimitError(key.user_id, limit)
        if any(stored.key.prefix == key.prefix for stored in state.keys.values()):
            raise ConflictError("an API key with this prefix exists")
        created = ApiKey(
            id=str(uuid.uuid4()),
            user_id=key.user_id,
            prefix=key.prefix,
            name=key.name,
            scopes=key.scopes,
            created_at=state.clock.now(),
            expires_at=key.expires_at,
        )
        state.keys[created.id] = StoredApiKey(key=created, digest=key.digest)
        state.record(audit.completed(target=key_target(created.user_id, created.id)))
        return created

    async def list(self, user_id: int) -> tuple[ApiKey, ...]:
        if user_id not in self.state.users:
            raise UserNotFoundError(user_id)
        mine = [s.key for s in self.state.keys.values() if s.key.user_id == user_id and s.key.revoked_at is None]
        return tuple(sorted(mine, key=lambda k: (k.created_at, k.id), reverse=True))

    async def find(self, prefix: str) -> StoredApiKey | None:
        return next((stored for stored in self.state.keys.values() if stored.key.prefix == prefix), None)

    async def revoke(self, user_id: int, key_id: str, *, audit: AuditEntry) -> ApiKey:
        stored = self.state.keys.get(key_id.lower())
        if stored is None or stored.key.user_id != user_id or stored.key.revoked_at is not None:
            raise ApiKeyNotFoundError(key_id)
        revoked = msgspec.structs.replace(stored.key, revoked_at=self.state.clock.now())
        self.state.keys[revoked.id] = msgspec.structs.replace(stored, key=revoked)
        self.state.record(audit)
        return revoked

    async def record_use(self, used: Mapping[str, datetime]) -> None:
        for key_id, at in used.items():
            stored = self.state.keys.get(key_id)
            if stored is not None and (stored.key.last_used_at is None or stored.key.last_used_at < at):
                key = msgspec.structs.replace(stored.key, last_used_at=at)
                self.state.keys[key_id] = msgspec.structs.replace(stored, key=key)


class InMemoryRevocationStore(RevocationStore):
    def __init__(self, state: InMemoryCredentials) -> None:
        self.state = state

    async def revoke_sessions(self, user_id: int, *, audit: AuditEntry) -> datetime:
        if user_id not in self.state.users:
            raise UserNotFoundError(user_id)
        watermark = self.state.not_before[user_id] = self.state.clock.now()
        self.state.record(audit)
        return watermark

    async def tokens_not_before(self, user_id: int) -> datetime | None:
        return self.state.not_before.get(user_id)

    async def revocations_of(self, user_id: int) -> tuple[Revocation, ...]:
        keys: list[Revocation] = [
            ApiKeyRevoked(key_id=stored.key.id)
            for stored in self.state.keys.values()
            if stored.key.user_id == user_id and stored.key.revoked_at is not None
        ]
        if (at := self.state.not_before.get(user_id)) is not None:
            keys.append(SessionsRevoked(user_id=user_id, not_before=at.timestamp()))
        return tuple(keys)

    async def revoked_within(self, seconds: float) -> tuple[Revocation, ...]:
        since = self.state.clock.now() - timedelta(seconds=seconds)
        keys: list[Revocation] = [
            ApiKeyRevoked(key_id=stored.key.id)
            for stored in self.state.keys.values()
            if stored.key.revoked_at is not None and stored.key.revoked_at >= since
        ]
        sessions = [
            SessionsRevoked(user_id=user_id, not_before=at.timestamp())
            for user_id, at in self.state.not_before.items()
            if at >= since
        ]
        return (*keys, *sessions)
