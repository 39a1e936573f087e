"""Users: who holds a portfolio, how they are reached, and how they are known to an identity provider."""

import re
from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from domain.errors import InvalidRequestError

MAX_EMAIL = 254  # RFC 5321's limit on a forward path
MAX_NAME = 200
MAX_EXTERNAL_ID = 255  # OpenID Connect: a subject is at most 255 ASCII characters
DEFAULT_CURRENCY = "USD"
# Explicit ranges, never `\s`: Python's and JSON Schema's regular expressions disagree on what a space is.
EMAIL_PATTERN = r"^[^@\x00-\x20\x7f-\x9f]+@[^@\x00-\x20\x7f-\x9f]+$"  # no spaces, no control characters
NAME_PATTERN = r"^[^\x00-\x20\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"  # not starting with a space, no control characters
_EMAIL = re.compile(EMAIL_PATTERN)
_NAME = re.compile(NAME_PATTERN)
_EXTERNAL_ID = re.compile(r"[\x21-\x7e]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
# What erasure leaves in place of the personal data: unique per user, and no one's address.
ERASED_NAME = "Erased user"


def erased_email(user_id: int) -> str:
    return f"erased-{user_id}@erased.invalid"


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    email: str
    name: str
    external_id: str | None
    base_currency: str
    created_at: datetime
    updated_at: datetime | None
    erased_at: datetime | None = None


class NewUser(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    name: str
    external_id: str | None = None
    base_currency: str = DEFAULT_CURRENCY

    def checked(self) -> "NewUser":
        """This user with its email in lower case; InvalidRequestError names a field out of bounds."""
        return NewUser(
            email=check_email(self.email),
            name=check_name(self.name),
            external_id=None if self.external_id is None else check_external_id(self.external_id),
            base_currency=check_currency(self.base_currency),
        )

    def fields(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


class UserChanges(msgspec.Struct, frozen=True, kw_only=True):
    """A partial update: only the fields given change (`external_id=None` unlinks the identity provider)."""

    email: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    external_id: str | UnsetType | None = UNSET
    base_currency: str | UnsetType = UNSET

    def checked(self) -> "UserChanges":
        return UserChanges(
            email=UNSET if self.email is UNSET else check_email(self.email),
            name=UNSET if self.name is UNSET else check_name(self.name),
            external_id=(
                self.external_id if self.external_id in (UNSET, None) else check_external_id(str(self.external_id))
            ),
            base_currency=UNSET if self.base_currency is UNSET else check_currency(self.base_currency),
        )

    def fields(self) -> dict[str, Any]:
        """The fields given, by name."""
        return {name: value for name, value in msgspec.structs.asdict(self).items() if value is not UNSET}


class UserPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[User, ...]
    next_before: int | None


def check_email(email: str) -> str:
    """Emails compare without case: `Ada@Example.com` and `ada@example.com` are one address here."""
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise InvalidRequestError(
            f"email must be an address (local@domain), at most {MAX_EMAIL} characters", field="email"
        )
    return email.lower()


def check_name(name: str) -> str:
    if len(name) > MAX_NAME or not _NAME.fullmatch(name):
        raise InvalidRequestError(
            f"name must be 1 to {MAX_NAME} characters, not starting with a space, without control characters",
            field="name",
        )
    return name


def check_external_id(external_id: str) -> str:
    if len(external_id) > MAX_EXTERNAL_ID or not _EXTERNAL_ID.fullmatch(external_id):
        raise InvalidRequestError(
            f"external_id must be 1 to {MAX_EXTERNAL_ID} printable ASCII characters without spaces",
            field="external_id",
        )
    return external_id


def check_currency(currency: str) -> str:
    if not _CURRENCY.fullmatch(currency):
        raise InvalidRequestError(
            "base_currency must be a three-letter ISO 4217 code, such as USD", field="base_currency"
        )
    return currency
