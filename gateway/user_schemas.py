"""Users, the audit log and the data export on the wire."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from domain.models.audit import AuditPage, AuditRecord
from domain.models.users import (
    EMAIL_PATTERN,
    MAX_EMAIL,
    MAX_EXTERNAL_ID,
    MAX_NAME,
    NAME_PATTERN,
    NewUser,
    User,
    UserChanges,
    UserPage,
)
from gateway.trade_schemas import encode_cursor

# The domain's own rules (domain/models/users.py), stated for the document; the domain checks them again.
EXTERNAL_ID_PATTERN = r"^[\x21-\x7e]+$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
EXPORT_FORMAT = "folio-export/1"

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=MAX_EMAIL, pattern=EMAIL_PATTERN)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)]
ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EXTERNAL_ID, pattern=EXTERNAL_ID_PATTERN)]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, pattern=CURRENCY_PATTERN)]


class UserIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Email
    name: Name
    external_id: ExternalId | None = None
    base_currency: Currency = "USD"

    def to_domain(self) -> NewUser:
        return NewUser(email=self.email, name=self.name, external_id=self.external_id, base_currency=self.base_currency)


class UserPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Only the fields sent change; `"external_id": null` unlinks the identity provider."""

    email: Email | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    external_id: ExternalId | UnsetType | None = UNSET
    base_currency: Currency | UnsetType = UNSET

    def to_domain(self) -> UserChanges:
        return UserChanges(
            email=self.email, name=self.name, external_id=self.external_id, base_currency=self.base_currency
        )


class UserOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    email: str
    name: str
    external_id: str | None
    base_currency: str
    created_at: datetime
    updated_at: datetime | None


class UserPageOut(msgspec.Struct, frozen=True):
    items: list[UserOut]
    next_cursor: str | None


class AuditEntryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    request_id: str | None
    digest: str  # SHA-256 of the change's canonical JSON, hex
    prev_hash: str
    hash: str


class AuditPageOut(msgspec.Struct, frozen=True):
    items: list[AuditEntryOut]
    next_cursor: str | None


class ExportHoldingOut(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str | None  # None for an instrument this process does not list (yet)
    quantity: Decimal
    average_cost: Decimal


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        external_id=user.external_id,
        base_currency=user.base_currency,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def user_page_out(page: UserPage) -> UserPageOut:
    return UserPageOut(items=[user_out(u) for u in page.items], next_cursor=encode_cursor(page.next_before))


def audit_entry_out(record: AuditRecord) -> AuditEntryOut:
    return AuditEntryOut(
        id=record.id,
        at=record.at,
        actor=record.actor,
        action=record.action,
        target=record.target,
        request_id=record.request_id,
        digest=record.digest,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


def audit_page_out(page: AuditPage) -> AuditPageOut:
    return AuditPageOut(items=[audit_entry_out(r) for r in page.items], next_cursor=encode_cursor(page.next_before))


ExportFormat = Literal["folio-export/1"]
