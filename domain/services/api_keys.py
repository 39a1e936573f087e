"""API keys: issue, list, revoke and verify them; record when each was last used, in batches.

A verified key is cached by the gateway until it expires (or for `cache_s`), so verification, the one
database read, happens once per key per process in a while, not per request. Use is noted in memory
(`touch`, a dict store) and written every `usage_flush_s` in one statement.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from domain.errors import (
    ApiKeyLimitError,
    ConflictError,
    CredentialRejectedError,
    InvalidRequestError,
    UnavailableError,
)
from domain.models.api_keys import (
    ApiKey,
    IssuedApiKey,
    KeyScope,
    NewApiKey,
    generate_key,
    key_digest,
    key_matches,
    key_prefix,
)
from domain.models.audit import APIKEY_CREATE, APIKEY_REVOKE, AuditEntry, key_target, user_target
from domain.models.invalidations import ApiKeyRevoked
from domain.ports.clock import Clock
from domain.ports.credentials import ApiKeyStore
from domain.services.revocations import RevocationWatch, key_actor

log = logging.getLogger("folio.api_keys")

PREFIX_ATTEMPTS = 3  # a new key whose random prefix is taken draws another (80 bits: it never happens twice)


class ApiKeyService:
    def __init__(
        self,
        store: ApiKeyStore,
        watch: RevocationWatch,
        clock: Clock,
        *,
        pepper: bytes,
        max_per_user: int,
        usage_flush_s: float,
    ) -> None:
        self._store = store
        self._watch = watch
        self._clock = clock
        self._pepper = pepper
        self._max_per_user = max_per_user
        self._usage_flush_s = usage_flush_s
        self._used: dict[str, float] = {}  # key id -> epoch second of its latest use, not yet written

    async def create(
        self,
        user_id: int,
        *,
        name: str,
        scopes: tuple[KeyScope, ...],
        expires_at: datetime | None,
        actor: str,
        request_id: str | None,
    ) -> IssuedApiKey:
        """A new key for the user; its full text is in the result, and nowhere else, ever."""
        if expires_at is not None and expires_at <= self._clock.now():
            raise InvalidRequestError("expires_at must be in the future", field="expires_at")
        scopes = tuple(dict.fromkeys(scopes))
        change = {"name": name, "scopes": list(scopes), "expires_at": expires_at and expires_at.isoformat()}
        audit = AuditEntry(
            actor=actor, action=APIKEY_CREATE, target=user_target(user_id), request_id=request_id, change=change
        )
        limit = self._max_per_user
        for attempt in range(PREFIX_ATTEMPTS):
            prefix, token = generate_key()
            record = NewApiKey(
                user_id=user_id,
                prefix=prefix,
                digest=key_digest(self._pepper, token),
                name=name,
                scopes=scopes,
                expires_at=expires_at,
            )
            try:
                return IssuedApiKey(key=await self._store.create(record, limit=limit, audit=audit), token=token)
            except ConflictError as e:
                if isinstance(e, ApiKeyLimitError) or attempt == PREFIX_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def list(self, user_id: int) -> tuple[ApiKey, ...]:
        return await self._store.list(user_id)

    async def revoke(self, user_id: int, key_id: str, *, actor: str, request_id: str | None) -> None:
        """Revoke the key in the store, then everywhere: every process refuses it when this returns."""
        audit = AuditEntry(
            actor=actor,
            action=APIKEY_REVOKE,
            target=key_target(user_id, key_id),
            request_id=request_id,
            change={},
        )
        key = await self._store.revoke(user_id, key_id, audit=audit)
        await self._watch.announce(ApiKeyRevoked(key_id=key.id))

    async def verify(self, token: str) -> ApiKey:
        """The key `token` is; raises CredentialRejectedError saying why not, UnavailableError when the
        store cannot answer."""
        prefix = key_prefix(token)
        if prefix is None:
            raise CredentialRejectedError("the API key is malformed")
        stored = await self._store.find(prefix)
        # The same answer for an unknown prefix and a wrong secret: neither tells which prefixes exist.
        if stored is None or not key_matches(self._pepper, token, stored.digest):
            raise CredentialRejectedError("the API key is not valid")
        key = stored.key
        if key.revoked_at is not None or self._watch.revoked(key_actor(key.id), key.created_at.timestamp()):
            self._watch.apply(ApiKeyRevoked(key_id=key.id))
            raise CredentialRejectedError("the API key has been revoked")
        if key.expires_at is not None and key.expires_at <= self._clock.now():
            raise CredentialRejectedError("the API key has expired")
        return key

    def touch(self, key_id: str, at: float) -> None:
        """Note a use of the key (a dict store: this runs on every request a key makes)."""
        self._used[key_id] = at

    async def run(self) -> None:
        """Until cancelled: write the uses noted so far every `usage_flush_s` (`flush` once more at shutdown)."""
        while True:
            await asyncio.sleep(self._usage_flush_s)
            with contextlib.suppress(UnavailableError):  # kept for the next turn
                await self.flush()

    async def flush(self) -> None:
        """Write the noted uses in one statement; raises UnavailableError, keeping them for the next turn."""
        used, self._used = self._used, {}
        if not used:
            return
        try:
            await self._store.record_use({key: datetime.fromtimestamp(at, UTC) for key, at in used.items()})
        except UnavailableError:
            for key, at in used.items():
                self._used[key] = max(at, self._used.get(key, at))
            raise
