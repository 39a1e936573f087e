"""Who an external identity provider says the caller is: the verified claims of its access token."""

from collections.abc import Mapping

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
