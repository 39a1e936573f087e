"""Credentials: API keys, and the record of revocations (keys revoked, a user's tokens before a watermark)."""

from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from domain.models.api_keys import ApiKey, NewApiKey, StoredApiKey
from domain.models.audit import AuditEntry
from domain.models.invalidations import Revocation


class ApiKeyStore(Protocol):
    """API keys by user, found by prefix for verification. Every change is audited in its own transaction."""

    @abstractmethod
    async def create(self, key: NewApiKey, *, limit: int, audit: AuditEntry) -> ApiKey:
        """Record a new key (its id and `created_at` are the store's).

        Raises:
            UserNotFoundError: no such user.
            ApiKeyLimitError: the user already has `limit` keys that are not revoked.
            ConflictError: another key has this prefix (a new one must be drawn).
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def list(self, user_id: int) -> tuple[ApiKey, ...]:
        """The user's keys that are not revoked (expired ones too), newest first.

        Raises:
            UserNotFoundError: no such user.
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def find(self, prefix: str) -> StoredApiKey | None:
        """The key with this prefix, revoked or not, with its digest; None when there is none.

        Raises:
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def revoke(self, user_id: int, key_id: str, *, audit: AuditEntry) -> ApiKey:
        """Revoke one of the user's keys, now; return it as revoked.

        Raises:
            ApiKeyNotFoundError: the user has no such key, or it is revoked already.
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def record_use(self, used: Mapping[str, datetime]) -> None:
        """Move each key's `last_used_at` forward to the time given (never back), in one round trip.

        Raises:
            UnavailableError: the store cannot answer now.
        """


class RevocationStore(Protocol):
    """The JWT watermark per user, and every revocation by when it happened."""

    @abstractmethod
    async def revoke_sessions(self, user_id: int, *, audit: AuditEntry) -> datetime:
        """Invalidate every token issued to the user before now; return that watermark (the store's clock).

        Raises:
            UserNotFoundError: no such user.
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def tokens_not_before(self, user_id: int) -> datetime | None:
        """The user's watermark; None when their sessions were never revoked (or there is no such user).

        Raises:
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def revocations_of(self, user_id: int) -> tuple[Revocation, ...]:
        """The user's session watermark (if any) and every revoked key of theirs: what erasing them revoked.

        Raises:
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def revoked_within(self, seconds: float) -> tuple[Revocation, ...]:
        """Every key revocation and session watermark of the last `seconds` (by the store's clock).

        Raises:
            UnavailableError: the store cannot answer now.
        """
