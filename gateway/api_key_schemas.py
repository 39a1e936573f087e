"""API keys and sessions on the wire: a key request, a key (its full text once, at creation), a revocation."""

from datetime import datetime
from typing import Annotated

import msgspec

from domain.models.api_keys import KEY_CHARS, ApiKey, IssuedApiKey, KeyScope
from gateway.openapi_contract import UUID_PATTERN

# Printable text: no control characters (a NUL could not even be stored).
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
KEY_PATTERN = r"^folio_[a-z2-7]{16}_[a-z2-7]{32}$"
KeyId = Annotated[str, msgspec.Meta(pattern=f"^{UUID_PATTERN}$", description="The key's id (a UUID)")]
Prefix = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z2-7]{16}$", description="The key's public part, after `folio_`: tells keys apart")
]
KeyName = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=100, pattern=NAME_PATTERN, description="What the key is for, for you"),
]
Scopes = Annotated[
    list[KeyScope],
    msgspec.Meta(
        min_length=1,
        description="What the key may do: `read` (every GET of the user's data and of market data), `trade`"
        " (placing trades), `reports` (requesting and reading reports). Default: `read` alone",
    ),
]
ExpiresAt = Annotated[
    datetime,
    msgspec.Meta(tz=True, description="When the key stops working (with a time zone; must be in the future)"),
]


class ApiKeyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: KeyName
    scopes: Scopes = msgspec.field(default_factory=lambda: ["read"])
    expires_at: ExpiresAt | None = None


class ApiKeyOut(msgspec.Struct, frozen=True, kw_only=True):
    id: KeyId
    prefix: Prefix
    name: str
    scopes: list[KeyScope]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiKeyCreatedOut(msgspec.Struct, frozen=True, kw_only=True):
    key: Annotated[
        str,
        msgspec.Meta(
            min_length=KEY_CHARS,
            max_length=KEY_CHARS,
            pattern=KEY_PATTERN,
            description="The key itself, shown this once: send it as `Authorization: Bearer <key>`",
        ),
    ]
    id: KeyId
    prefix: Prefix
    name: str
    scopes: list[KeyScope]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiKeyListOut(msgspec.Struct, frozen=True):
    items: list[ApiKeyOut]


class SessionsRevokedOut(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    tokens_not_before: datetime


def api_key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        prefix=key.prefix,
        name=key.name,
        scopes=list(key.scopes),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
    )


def api_key_created_out(issued: IssuedApiKey) -> ApiKeyCreatedOut:
    key = issued.key
    return ApiKeyCreatedOut(
        key=issued.token,
        id=key.id,
        prefix=key.prefix,
        name=key.name,
        scopes=list(key.scopes),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
    )


def api_key_list_out(keys: tuple[ApiKey, ...]) -> ApiKeyListOut:
    return ApiKeyListOut(items=[api_key_out(key) for key in keys])
