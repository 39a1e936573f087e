"""API keys for server-to-server clients: the key as a value, and the pure functions that make and check one.

A key reads `folio_<prefix>_<secret>`. The prefix (16 base32 characters, public) finds the row; the
secret (20 random bytes, 160 bits) proves possession. Only a keyed digest is stored: HMAC-SHA256
under a server-side secret. The secret is random and long, so a fast hash is enough: no one can
enumerate 2**160 candidates, and a slow password hash would only cost every cache miss
milliseconds. Keying it means a database dump alone cannot even test a candidate key.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Literal

import msgspec

KeyScope = Literal["read", "trade", "reports"]
KEY_SCOPES: tuple[KeyScope, ...] = ("read", "trade", "reports")
KEY_PREFIX = "folio_"
PREFIX_BYTES = 10  # 16 base32 characters: finds the row, and is shown in listings
SECRET_BYTES = 20  # 160 bits of entropy: 32 base32 characters
PREFIX_CHARS = PREFIX_BYTES * 8 // 5
SECRET_CHARS = SECRET_BYTES * 8 // 5
KEY_CHARS = len(KEY_PREFIX) + PREFIX_CHARS + 1 + SECRET_CHARS
_BASE32 = frozenset("abcdefghijklmnopqrstuvwxyz234567")


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A key as its owner sees it: everything but the secret."""

    id: str
    user_id: int
    prefix: str
    name: str
    scopes: tuple[KeyScope, ...]
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class StoredApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A key's row as verification reads it: the key and the digest of its secret."""

    key: ApiKey
    digest: bytes


class NewApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """What the store records for a new key: never the secret itself."""

    user_id: int
    prefix: str
    digest: bytes
    name: str
    scopes: tuple[KeyScope, ...]
    expires_at: datetime | None


class IssuedApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A new key and, this once, its full text."""

    key: ApiKey
    token: str


def _base32(data: bytes) -> str:
    return base64.b32encode(data).decode().lower()  # whole 5-byte groups: no padding


def generate_key() -> tuple[str, str]:
    """A new key's (prefix, full text), from the operating system's random source."""
    prefix = _base32(secrets.token_bytes(PREFIX_BYTES))
    return prefix, f"{KEY_PREFIX}{prefix}_{_base32(secrets.token_bytes(SECRET_BYTES))}"


def is_key(token: str) -> bool:
    """Whether a bearer credential claims to be an API key (a JWT never starts so)."""
    return token.startswith(KEY_PREFIX)


def key_prefix(token: str) -> str | None:
    """The prefix of a well-formed key, None for anything else."""
    if len(token) != KEY_CHARS or not is_key(token) or token[len(KEY_PREFIX) + PREFIX_CHARS] != "_":
        return None
    prefix = token[len(KEY_PREFIX) : len(KEY_PREFIX) + PREFIX_CHARS]
    secret = token[-SECRET_CHARS:]
    if not _BASE32.issuperset(prefix) or not _BASE32.issuperset(secret):
        return None
    return prefix


def key_digest(pepper: bytes, token: str) -> bytes:
    """The stored form of a key: HMAC-SHA256 of its full text under the server's key-hashing secret."""
    return hmac.new(pepper, token.encode(), hashlib.sha256).digest()


def key_matches(pepper: bytes, token: str, digest: bytes) -> bool:
    """Whether `token` is the key `digest` was made from, in time independent of where they differ."""
    return hmac.compare_digest(key_digest(pepper, token), digest)
