"""External identity: access tokens issued by an OpenID Connect provider that Folio trusts."""

from abc import abstractmethod
from typing import Protocol

from domain.models.identity import ExternalClaims, SignedInIdentity


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


class OperatorSignIn(Protocol):
    """The provider's authorization code flow with PKCE, for the console's operators (a confidential client)."""

    @abstractmethod
    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str) -> str:
        """Where to send the browser to sign in (the provider's `authorization_endpoint`, from its discovery).

        Raises:
            IdentityProviderUnavailableError: the provider's discovery document cannot be read.
        """

    @abstractmethod
    async def finish(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> SignedInIdentity:
        """Exchange the code the provider sent back for an ID token, and the identity that token verifies.

        Raises:
            SignInRefusedError: the provider refused the code (unknown, used, another client's or verifier).
            ExternalTokenRejectedError: the ID token is not valid (signature, issuer, audience, times, nonce).
            IdentityProviderUnavailableError: the provider cannot be reached or answers with an error.
        """
