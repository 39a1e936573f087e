"""One contract for external access tokens, run against the in-memory twin and the OpenID Connect adapter
(the latter talking to a real provider over HTTP on 127.0.0.1)."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain.adapters.memory.identity import InMemoryExternalTokens
from domain.adapters.oidc import OidcExternalTokens
from domain.errors import ExternalTokenRejectedError, IdentityProviderUnavailableError
from domain.ports.identity import ExternalTokens
from tests.oidc_provider import AUDIENCE, OidcProvider, new_key, running_provider

pytestmark = pytest.mark.integration
LEEWAY_S = 30
MIN_REFETCH_S = 0.2


def claims(issuer: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {"iss": issuer, "aud": AUDIENCE, "sub": "auth0|user-42", "iat": now, "nbf": now, "exp": now + 600}
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


class Issuer:
    """The issuer's side of a contract test: mint, rotate, go down; `tokens` is the verifier under test."""

    tokens: ExternalTokens
    name: str

    def mint(self, **overrides: Any) -> str:
        raise NotImplementedError

    def forged(self) -> str:
        """A well-formed token naming a key this issuer never published."""
        raise NotImplementedError

    async def rotate(self) -> None:
        """A new key in place of the old one, some time after the verifier last learnt the keys."""
        raise NotImplementedError

    async def go_down(self) -> None:
        raise NotImplementedError

    async def come_back(self) -> None:
        raise NotImplementedError


class MemoryIssuer(Issuer):
    def __init__(self) -> None:
        self.name = "https://id.example.com/"
        self.twin = InMemoryExternalTokens(self.name, AUDIENCE, leeway_s=LEEWAY_S)
        self.tokens = self.twin

    def mint(self, **overrides: Any) -> str:
        return self.twin.mint(claims(self.name, **overrides))

    def forged(self) -> str:
        return self.twin.mint(claims(self.name), kid="never-published")

    async def rotate(self) -> None:
        self.twin.rotate()

    async def go_down(self) -> None:
        self.twin.reachable = False

    async def come_back(self) -> None:
        self.twin.reachable = True


class ProviderIssuer(Issuer):
    def __init__(self, provider: OidcProvider, tokens: OidcExternalTokens) -> None:
        self.provider = provider
        self.name = provider.issuer
        self.tokens = tokens
        self.key = next(iter(provider.keys.values()))

    def mint(self, **overrides: Any) -> str:
        return self.provider.mint(self.key, **overrides)  # the same defaults as `claims`

    def forged(self) -> str:
        return self.provider.mint(new_key("ES256"))

    async def rotate(self) -> None:
        self.key = self.provider.rotate()
        await asyncio.sleep(MIN_REFETCH_S)

    async def go_down(self) -> None:
        self.provider.go_down("cut")
        await asyncio.sleep(MIN_REFETCH_S)  # down for longer than the interval between two fetches

    async def come_back(self) -> None:
        self.provider.come_back()
        await asyncio.sleep(MIN_REFETCH_S)  # the failed fetch's interval passes before the next one


@pytest.fixture(params=["memory", "oidc"])
async def issuer(request: pytest.FixtureRequest) -> AsyncIterator[Issuer]:
    if request.param == "memory":
        yield MemoryIssuer()
        return
    with running_provider("RS256") as provider:
        tokens = OidcExternalTokens(
            provider.issuer,
            AUDIENCE,
            algorithms=("RS256", "ES256", "EdDSA"),
            leeway_s=LEEWAY_S,
            refresh_s=300,
            min_refetch_s=MIN_REFETCH_S,
            timeout_s=1,
        )
        yield ProviderIssuer(provider, tokens)
        await tokens.aclose()


async def test_a_good_token_gives_its_claims(issuer: Issuer):
    now = int(time.time())
    token = issuer.mint(
        sub="auth0|alice", iat=now - 5, exp=now + 300, scope="read trade", email="alice@example.com",
        email_verified=True, name="Alice Example",
    )  # fmt: skip
    assert issuer.tokens.recognises(token)
    verified = await issuer.tokens.verify(token)
    assert (verified.issuer, verified.subject) == (issuer.name, "auth0|alice")
    assert (verified.issued_at, verified.expires_at) == (now - 5, now + 300)
    assert verified.scopes == {"read", "trade"}
    assert (verified.email, verified.email_verified, verified.name) == ("alice@example.com", True, "Alice Example")


async def test_scopes_may_come_as_a_list_and_optional_claims_may_be_missing(issuer: Issuer):
    verified = await issuer.tokens.verify(issuer.mint(scp=["read", "reports"], nbf=None))
    assert verified.scopes == {"read", "reports"}
    assert (verified.email, verified.email_verified, verified.name) == (None, False, None)


async def test_another_issuer_or_audience_is_refused(issuer: Issuer):
    elsewhere = issuer.mint(iss="https://elsewhere.example.com/")
    assert not issuer.tokens.recognises(elsewhere)
    with pytest.raises(ExternalTokenRejectedError, match="another issuer"):
        await issuer.tokens.verify(elsewhere)
    with pytest.raises(ExternalTokenRejectedError, match="aud"):
        await issuer.tokens.verify(issuer.mint(aud="another-api"))
    with pytest.raises(ExternalTokenRejectedError, match="aud"):
        await issuer.tokens.verify(issuer.mint(aud=None))
    assert (await issuer.tokens.verify(issuer.mint(aud=["another-api", AUDIENCE]))).subject == "auth0|user-42"


async def test_times_are_checked_with_the_leeway_and_no_more(issuer: Issuer):
    now = int(time.time())
    verify = issuer.tokens.verify
    assert await verify(issuer.mint(exp=now - LEEWAY_S + 5))  # expired, but within the clock skew allowed
    assert await verify(issuer.mint(nbf=now + LEEWAY_S - 5, iat=now + LEEWAY_S - 5))
    with pytest.raises(ExternalTokenRejectedError, match="expired"):
        await verify(issuer.mint(exp=now - LEEWAY_S - 5))
    with pytest.raises(ExternalTokenRejectedError, match="not valid yet"):
        await verify(issuer.mint(nbf=now + LEEWAY_S + 5))
    with pytest.raises(ExternalTokenRejectedError, match="not valid yet"):
        await verify(issuer.mint(iat=now + LEEWAY_S + 5))


@pytest.mark.parametrize("missing", ["sub", "exp", "iat"])
async def test_a_token_without_a_required_claim_is_refused(issuer: Issuer, missing: str):
    with pytest.raises(ExternalTokenRejectedError, match=missing):
        await issuer.tokens.verify(issuer.mint(**{missing: None}))


async def test_something_that_is_not_a_token_is_refused(issuer: Issuer):
    assert not issuer.tokens.recognises("not-a-token")
    with pytest.raises(ExternalTokenRejectedError, match="not a signed JWT"):
        await issuer.tokens.verify("not-a-token")


async def test_after_a_rotation_new_tokens_pass_without_a_restart_and_old_ones_fail(issuer: Issuer):
    old = issuer.mint(sub="before")
    assert (await issuer.tokens.verify(old)).subject == "before"
    await issuer.rotate()
    assert (await issuer.tokens.verify(issuer.mint(sub="after"))).subject == "after"
    with pytest.raises(ExternalTokenRejectedError, match="not one the issuer publishes"):
        await issuer.tokens.verify(old)


async def test_while_the_issuer_is_down_known_keys_work_and_unknown_ones_cannot_be_judged(issuer: Issuer):
    assert await issuer.tokens.verify(issuer.mint())
    forged = issuer.forged()
    await issuer.go_down()
    assert (await issuer.tokens.verify(issuer.mint(sub="still-here"))).subject == "still-here"
    with pytest.raises(IdentityProviderUnavailableError):
        await issuer.tokens.verify(forged)
    await issuer.come_back()
    with pytest.raises(ExternalTokenRejectedError, match="not one the issuer publishes"):
        await issuer.tokens.verify(forged)
