"""The in-memory twin of an external OpenID Connect issuer and of the verifier of its tokens."""

import asyncio
import itertools
from collections.abc import Mapping

from domain.adapters.clock import SystemClock
from domain.errors import ExternalTokenRejectedError, IdentityProviderUnavailableError
from domain.models.identity import ExternalClaims, external_claims
from domain.ports.clock import Clock
from domain.ports.identity import ExternalTokens

TOKEN_PREFIX = "memory-oidc."  # noqa: S105 - how the twin's tokens begin, not a secret


class InMemoryExternalTokens(ExternalTokens):
    """Tokens are opaque strings this twin mints; keys are names it publishes, rotates and retires.

    Like the real verifier, it learns the published keys when it meets an unknown one (`reachable`
    False: the issuer is down, so an unknown key cannot be learnt, while the keys already known still work).
    """

    def __init__(self, issuer: str, audience: str, *, leeway_s: float = 30.0, clock: Clock | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.clock = clock or SystemClock()
        self.reachable = True
        self.published: list[str] = ["key-1"]
        self.known: frozenset[str] = frozenset()
        self._names = itertools.count(2)
        self._minted: dict[str, tuple[str, dict[str, object]]] = {}

    def mint(self, claims: Mapping[str, object], *, kid: str | None = None) -> str:
        """A token carrying exactly `claims`, signed (so to speak) with key `kid` (default: the newest)."""
        token = f"{TOKEN_PREFIX}{len(self._minted) + 1}"
        self._minted[token] = (kid or self.published[-1], dict(claims))
        return token

    def rotate(self) -> str:
        """Publish a new key in place of every old one; returns its `kid`."""
        self.published = [f"key-{next(self._names)}"]
        return self.published[0]

    def recognises(self, token: str) -> bool:
        minted = self._minted.get(token)
        return minted is not None and minted[1].get("iss") == self.issuer

    async def verify(self, token: str) -> ExternalClaims:
        await asyncio.sleep(0)  # like the real one, a verification may wait for a fetch
        minted = self._minted.get(token)
        if minted is None:
            raise ExternalTokenRejectedError("the token is not a signed JWT")
        kid, claims = minted
        if claims.get("iss") != self.issuer:
            raise ExternalTokenRejectedError("the token is from another issuer")
        if kid not in self.known:
            self._learn_keys()
            if kid not in self.known:
                raise ExternalTokenRejectedError("the token's key (kid) is not one the issuer publishes")
        self._check_times(claims)
        audience = claims.get("aud")
        if audience != self.audience and not (isinstance(audience, list) and self.audience in audience):
            raise ExternalTokenRejectedError("the token is not meant for this API (aud)")
        return external_claims(claims)

    def _learn_keys(self) -> None:
        if not self.reachable:
            raise IdentityProviderUnavailableError()
        self.known = frozenset(self.published)

    def _check_times(self, claims: Mapping[str, object]) -> None:
        for claim in ("exp", "iat"):
            if claims.get(claim) is None:
                raise ExternalTokenRejectedError(f"the token has no {claim} claim")
        parsed = external_claims(claims)
        now = self.clock.time()
        if parsed.expires_at <= now - self.leeway_s:
            raise ExternalTokenRejectedError("the token has expired")
        not_before = claims.get("nbf")
        if isinstance(not_before, int | float) and not_before > now + self.leeway_s:
            raise ExternalTokenRejectedError("the token is not valid yet")
        if parsed.issued_at > now + self.leeway_s:
            raise ExternalTokenRejectedError("the token is not valid yet")
