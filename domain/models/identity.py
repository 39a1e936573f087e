"""Who an external identity provider says the caller is: the verified claims of its access token."""

from collections.abc import Collection, Mapping
from typing import Literal

import msgspec

from domain.errors import ExternalTokenRejectedError

MAX_SUBJECT_CHARS = 255  # OpenID Connect Core 1.0, section 2: `sub` never exceeds 255 ASCII characters


class ExternalClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The claims of a verified access token; `subject` is the user's `external_id`."""

    issuer: str
    subject: str
    expires_at: float  # epoch s
    issued_at: float  # epoch s: what a revocation watermark is compared with
    scopes: frozenset[str] = frozenset()  # `scope` (RFC 9068, space-separated) or `scp`, as the issuer wrote them
    email: str | None = None
    email_verified: bool = False
    name: str | None = None


def external_claims(payload: Mapping[str, object]) -> ExternalClaims:
    """The claims of a token whose signature, issuer, audience and times were already checked.

    Raises:
        ExternalTokenRejectedError: `sub`, `iss`, `exp` or `iat` is missing or of the wrong type.
    """
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_CHARS:
        raise ExternalTokenRejectedError(f"the token's subject (sub) must have 1 to {MAX_SUBJECT_CHARS} characters")
    issuer = payload.get("iss")
    if not isinstance(issuer, str):
        raise ExternalTokenRejectedError("the token names no issuer (iss)")
    return ExternalClaims(
        issuer=issuer,
        subject=subject,
        expires_at=_epoch(payload, "exp"),
        issued_at=_epoch(payload, "iat"),
        scopes=_scopes(payload),
        email=_text(payload, "email"),
        email_verified=payload.get("email_verified") is True,
        name=_text(payload, "name"),
    )


def _epoch(payload: Mapping[str, object], claim: str) -> float:
    value = payload.get(claim)
    # bool is an int to Python, never a time to a token
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExternalTokenRejectedError(f"the token's {claim} claim must be a number of seconds since the epoch")
    return float(value)


def _scopes(payload: Mapping[str, object]) -> frozenset[str]:
    for claim in ("scope", "scp"):  # providers differ: a space-separated string, or a list of strings
        value = payload.get(claim)
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list):
            return frozenset(s for s in value if isinstance(s, str) and s)
    return frozenset()


def _text(payload: Mapping[str, object], claim: str) -> str | None:
    value = payload.get(claim)
    return value if isinstance(value, str) and value else None


OperatorRole = Literal["read", "admin"]


class SignedInIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """Who the provider says signed in to the console: the verified claims of its ID token."""

    subject: str
    username: str | None = None  # `preferred_username`
    email: str | None = None
    roles: frozenset[str] = frozenset()  # from the configured roles claim
    issued_at: float  # epoch s

    @property
    def operator_name(self) -> str:
        """The name the console and the audit log show: `preferred_username`, else `email`, else `sub`,
        prefixed so that it never names an operator of Folio's own tokens."""
        return f"oidc:{self.username or self.email or self.subject}"


def operator_role(roles: Collection[str], *, admin_role: str, read_role: str) -> OperatorRole | None:
    """The console role the provider's roles give: `admin` wins over `read`; None: no console access."""
    if admin_role in roles:
        return "admin"
    return "read" if read_role in roles else None


def claim_values(payload: Mapping[str, object], claim: str) -> frozenset[str]:
    """The strings of a claim: a list, or a space-separated string. A name that is not a claim itself is read
    as a dotted path into nested objects (`realm_access.roles`, as Keycloak writes them)."""
    value: object = payload.get(claim)
    if value is None and "." in claim:
        value = payload
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str) and item)
    return frozenset()


def signed_in_identity(payload: Mapping[str, object], roles_claim: str) -> SignedInIdentity:
    """The identity in a verified ID token's claims.

    Raises:
        ExternalTokenRejectedError: `sub` or `iat` is missing or of the wrong type.
    """
    claims = external_claims(payload)
    return SignedInIdentity(
        subject=claims.subject,
        username=_name(_text(payload, "preferred_username")),
        email=_name(claims.email),
        roles=claim_values(payload, roles_claim),
        issued_at=claims.issued_at,
    )


def _name(value: str | None) -> str | None:
    # Counted in bytes: the name travels in the session cookie, which stays well under a browser's limit.
    return value if value is not None and len(value.encode()) <= MAX_SUBJECT_CHARS else None
