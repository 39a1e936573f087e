"""Access tokens of an external OpenID Connect issuer, verified with its published keys (PyJWT)."""

import base64
from collections.abc import Collection
from typing import Any

import httpx
import jwt
import msgspec

from domain.adapters.oidc_keys import IssuerKeys
from domain.errors import ExternalTokenRejectedError
from domain.models.identity import ExternalClaims, external_claims
from domain.ports.identity import ExternalTokens

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


class OidcExternalTokens(ExternalTokens):
    """Checks signature, issuer, audience, `exp`, `nbf` and `iat` (with `leeway_s`) of one issuer's tokens.

    `run()` keeps the issuer's keys fresh in the background; `aclose()` stops its HTTP client.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        algorithms: Collection[str],
        leeway_s: float,
        refresh_s: float,
        min_refetch_s: float,
        timeout_s: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._algorithms = sorted(set(algorithms))
        self._leeway_s = leeway_s
        self.keys = IssuerKeys(
            issuer,
            algorithms=self._algorithms,
            refresh_s=refresh_s,
            min_refetch_s=min_refetch_s,
            timeout_s=timeout_s,
            client=client,
        )

    def recognises(self, token: str) -> bool:
        peeked = _peek(token)
        return peeked is not None and peeked[1].get("iss") == self._issuer

    async def verify(self, token: str) -> ExternalClaims:
        verified = await verified_payload(
            token, self.keys, algorithms=self._algorithms, issuer=self._issuer, audience=self._audience,
            leeway_s=self._leeway_s, required=REQUIRED_CLAIMS,
        )  # fmt: skip
        return external_claims(verified)

    async def run(self) -> None:
        await self.keys.run()

    async def aclose(self) -> None:
        await self.keys.aclose()


async def verified_payload(
    token: str,
    keys: IssuerKeys,
    *,
    algorithms: Collection[str],
    issuer: str,
    audience: str,
    leeway_s: float,
    required: list[str],
) -> dict[str, Any]:
    """The claims of one of the issuer's JWTs (an access token, an ID token) once signature, issuer, audience
    and times are checked; raises ExternalTokenRejectedError, or IdentityProviderUnavailableError."""
    peeked = _peek(token)
    if peeked is None:
        raise ExternalTokenRejectedError("the token is not a signed JWT")
    header, payload = peeked
    # Refused before any key is looked up, so such tokens never make the issuer's keys be fetched.
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise ExternalTokenRejectedError(f"the token's algorithm must be one of {', '.join(sorted(algorithms))}")
    if payload.get("iss") != issuer:
        raise ExternalTokenRejectedError("the token is from another issuer")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ExternalTokenRejectedError("the token names no key (kid)")
    key = await keys.key(kid)
    try:
        # The key is bound to its own algorithm: PyJWT refuses a token whose `alg` is another one.
        return jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            audience=audience,
            issuer=issuer,
            leeway=leeway_s,
            options={"require": required},
        )
    except jwt.InvalidTokenError as e:
        raise ExternalTokenRejectedError(_reason(e)) from None


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The header and claims as written, not verified: for routing and for refusing early only.

    PyJWT parses the token again, strictly, before trusting anything; this look costs a tenth of that.
    """
    parts = token.split(".")
    if len(parts) != 3:  # a signed JWT: header, claims, signature
        return None
    try:
        header, claims = (msgspec.json.decode(base64.urlsafe_b64decode(part + "==")) for part in parts[:2])
    except (ValueError, msgspec.DecodeError):  # binascii.Error is a ValueError
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims


def _reason(error: jwt.InvalidTokenError) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "the token is not valid yet"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"the token has no {error.claim} claim"
    if isinstance(error, jwt.InvalidAudienceError):
        return "the token is not meant for this API (aud)"
    if isinstance(error, jwt.InvalidIssuerError):
        return "the token is from another issuer"
    if isinstance(error, jwt.InvalidSignatureError):
        return "the token's signature does not verify"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "the token's algorithm is not its key's"
    return "the token is invalid"
