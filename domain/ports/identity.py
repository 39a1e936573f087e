"""External identity: access tokens issued by an OpenID Connect provider that Folio trusts."""

from abc import abstractmethod
from typing import Protocol

from domain.models.identity import ExternalClaims


class ExternalTokens(Protocol):
    """Verifies the access tokens of one configured issuer, for one audience (this API)."""

    @abstractmethod
    def recognises(self, token: str) -> bool:
        """Whether `token` says it comes from this issuer: a cheap, unverified look, for routing only.

        A token that says so is answered by `verify` alone; Folio's own tokens name another issuer.
        """

    @abstractmethod
    async def verify(self, token: str) -> ExternalClaims:
        """The claims of `token` once its signature, issuer, audience and times are checked.

        Costs no round trip while the token's key is known; an unknown key may cost one shared, rate-limited
        fetch of the issuer's keys.

        Raises:
            ExternalTokenRejectedError: the token is not a valid token of this issuer for this API (malformed,
                an algorithm not accepted, a key the issuer does not publish, a bad signature, another issuer
                or audience, expired, not valid yet): answer 401.
            IdentityProviderUnavailableError: the token's key is not known and the issuer cannot be reached
                to learn it, so the token can be neither accepted nor refused: answer 503, retry later.
        """
