"""The OpenID Connect adapter against a real provider on 127.0.0.1: algorithms, forgeries, key rotation,
a flood of made-up key ids, and the provider going down. Requests to the provider are counted there."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from domain.adapters.oidc import OidcExternalTokens
from domain.errors import ExternalTokenRejectedError, IdentityProviderUnavailableError
from tests.oidc_provider import AUDIENCE, DISCOVERY, JWKS, OidcProvider, new_key, running_provider

pytestmark = pytest.mark.integration


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    with running_provider("RS256", "ES256", "EdDSA") as started:
        yield started


@pytest.fixture
async def verifier(provider: OidcProvider) -> AsyncIterator[Any]:
    """`await verifier(refresh_s=..., ...)`: an adapter on `provider`, closed after the test."""
    opened: list[OidcExternalTokens] = []

    def make(**options: Any) -> OidcExternalTokens:
        settings = {
            "algorithms": ("RS256", "ES256", "EdDSA"), "leeway_s": 30, "refresh_s": 300, "min_refetch_s": 0.3,
            "timeout_s": 1.0, **options,
        }  # fmt: skip
        opened.append(OidcExternalTokens(provider.issuer, AUDIENCE, **settings))
        return opened[-1]

    yield make
    for tokens in opened:
        await tokens.aclose()


def key_of(provider: OidcProvider, algorithm: str) -> Any:
    return next(key for key in provider.keys.values() if key.algorithm == algorithm)


def unsigned(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None = None) -> str:
    """A token assembled by hand, as an attacker would: HMAC-signed with `secret`, or with no signature."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{part(signature)}"


def good_claims(provider: OidcProvider) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": provider.issuer, "aud": AUDIENCE, "sub": "mallory", "iat": now, "exp": now + 600}


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_tokens_of_each_algorithm_are_accepted(provider, verifier, algorithm):
    tokens = verifier()
    verified = await tokens.verify(provider.mint(key_of(provider, algorithm), sub=f"user-{algorithm}"))
    assert verified.subject == f"user-{algorithm}"


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_a_key_published_without_alg_verifies_its_own_type(provider, verifier, algorithm):
    key = provider.add_key(algorithm, with_alg=False)
    assert (await verifier().verify(provider.mint(key, sub="no-alg"))).subject == "no-alg"


async def test_forgeries_are_refused_and_cost_the_provider_nothing(provider, verifier):
    tokens = verifier()
    rsa_key, ec_key = key_of(provider, "RS256"), key_of(provider, "ES256")
    assert await tokens.verify(provider.mint(rsa_key))  # the one fetch of this test
    public_pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    impostor = replace(new_key("RS256"), kid=rsa_key.kid)  # another private key behind a published kid
    forgeries = [
        ("signature does not verify", provider.mint(impostor)),
        ("algorithm must be one of", unsigned({"alg": "none", "kid": rsa_key.kid}, good_claims(provider))),
        ("algorithm must be one of", unsigned({"alg": "HS256", "kid": rsa_key.kid}, good_claims(provider), public_pem)),
        ("algorithm is not its key's", provider.mint(replace(ec_key, kid=rsa_key.kid))),  # ES256 under an RSA kid
        ("not a signed JWT", provider.mint(rsa_key).rpartition(".")[0]),  # the signature left out
    ]
    for reason, token in forgeries:
        with pytest.raises(ExternalTokenRejectedError, match=reason):
            await tokens.verify(token)
    assert provider.requests[JWKS] == 1


async def test_hmac_never_uses_a_public_or_published_symmetric_key_even_if_allowed_by_mistake(provider, verifier):
    """Keys are bound to their own algorithm, so even an allow-list naming HS256 cannot turn one into a secret."""
    secret = b"a-shared-secret-of-thirty-two-bytes!"
    provider.extra_jwks.append({"kty": "oct", "kid": "shared", "k": base64.urlsafe_b64encode(secret).decode()})
    tokens = verifier(algorithms=("RS256", "HS256"))
    rsa_key = key_of(provider, "RS256")
    public_jwk_bytes = json.dumps(rsa_key.jwk).encode()
    with pytest.raises(ExternalTokenRejectedError, match="algorithm is not its key's"):
        await tokens.verify(unsigned({"alg": "HS256", "kid": rsa_key.kid}, good_claims(provider), public_jwk_bytes))
    # A symmetric key in a public set is no secret: it verifies nothing, whatever the allow-list says.
    with pytest.raises(ExternalTokenRejectedError, match="not one the issuer publishes"):
        await tokens.verify(unsigned({"alg": "HS256", "kid": "shared"}, good_claims(provider), secret))


async def test_unusable_keys_in_the_set_are_skipped_and_the_others_work(provider, verifier):
    provider.extra_jwks += [
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        {"kty": "EC", "kid": "odd-curve", "crv": "P-999", "x": "AA", "y": "AA"},
        {**new_key("RS256").jwk, "use": "enc", "kid": "for-encryption"},
    ]
    tokens = verifier()
    assert await tokens.verify(provider.mint(key_of(provider, "EdDSA")))
    with pytest.raises(ExternalTokenRejectedError, match="not one the issuer publishes"):
        await tokens.verify(provider.mint(replace(new_key("RS256"), kid="for-encryption")))


async def test_rotation_learnt_from_an_unknown_kid(provider, verifier):
    """The old key's tokens work until the next fetch; a token of the new key causes that fetch (once the
    refetch interval since the last one has passed), and from then on the old key's tokens are refused."""
    tokens = verifier(min_refetch_s=1.0)
    old_key = key_of(provider, "RS256")
    old = provider.mint(old_key, sub="old")
    assert await tokens.verify(old)
    new_key_ = provider.rotate("ES256")
    assert (await tokens.verify(old)).subject == "old"  # no fetch yet: the set known is the old one
    assert provider.requests[JWKS] == 1
    await asyncio.sleep(1.0)
    concurrent = [provider.mint(new_key_, sub=f"new-{i}") for i in range(50)]
    verified = await asyncio.gather(*(tokens.verify(token) for token in concurrent))
    assert [claims.subject for claims in verified] == [f"new-{i}" for i in range(50)]
    assert provider.requests[JWKS] == 2  # one fetch, which every request for the new key waited for
    with pytest.raises(ExternalTokenRejectedError, match="not one the issuer publishes"):
        await tokens.verify(old)
    assert provider.requests[JWKS] == 2  # refused from the set just fetched, within the refetch interval
    assert provider.requests[DISCOVERY] == 1


async def test_rotation_learnt_from_the_periodic_refresh(provider, verifier):
    """With no token of the new key at all, the background refresh alone drops the old key."""
    tokens = verifier(refresh_s=1.0, min_refetch_s=1.0)
    refresher = asyncio.create_task(tokens.run())
    try:
        await until(lambda: provider.requests[JWKS] == 1)  # fetched at start, before any request
        old = provider.mint(key_of(provider, "EdDSA"))
        assert await tokens.verify(old)
        assert provider.requests[JWKS] == 1
        provider.rotate("RS256")
        deadline = time.monotonic() + 5
        while not isinstance(refused := await outcome(tokens.verify(old)), ExternalTokenRejectedError):
            assert time.monotonic() < deadline, "the old key was never dropped"  # accepted until the refresh
            await asyncio.sleep(0.02)
        assert "not one the issuer publishes" in refused.detail
        assert provider.requests[JWKS] == 2  # the refresh did it, not a fetch for the old kid
    finally:
        refresher.cancel()


async def test_a_flood_of_made_up_kids_costs_one_fetch_per_interval(provider, verifier):
    tokens = verifier(min_refetch_s=1.0)
    key = key_of(provider, "EdDSA")
    floods = [[provider.mint(key, headers={"kid": uuid.uuid4().hex}) for _ in range(200)] for _ in range(4)]

    async def flood(forged: list[str]) -> None:
        results = await asyncio.gather(*(tokens.verify(t) for t in forged), return_exceptions=True)
        assert all(isinstance(result, ExternalTokenRejectedError) for result in results)

    assert await tokens.verify(provider.mint(key))
    await flood(floods[0])  # within the interval after the first fetch: refused from the set known
    assert provider.requests[JWKS] == 1
    await asyncio.sleep(1.0)
    await flood(floods[1])  # one fetch, shared by all the requests waiting for it
    await flood(floods[2])  # refused from the set just fetched
    assert provider.requests[JWKS] == 2
    await asyncio.sleep(1.0)
    await flood(floods[3])
    assert (provider.requests[JWKS], provider.requests[DISCOVERY]) == (3, 1)


@pytest.mark.parametrize("mode", ["cut", "hang"])
async def test_a_provider_that_is_down_fails_unknown_kids_fast_and_known_ones_keep_working(provider, verifier, mode):
    tokens = verifier(min_refetch_s=1.5, timeout_s=0.5)
    known = key_of(provider, "ES256")
    assert await tokens.verify(provider.mint(known))
    provider.go_down(mode)
    await asyncio.sleep(1.5)
    newcomer = provider.add_key("EdDSA")  # published while nobody can fetch it
    unknown = [provider.mint(newcomer) for _ in range(21)]
    assert (await tokens.verify(provider.mint(known, sub="known"))).subject == "known"
    started = time.monotonic()
    with pytest.raises(IdentityProviderUnavailableError):
        await tokens.verify(unknown[0])
    assert time.monotonic() - started < 0.5 + 1.0  # the fetch gave up at its timeout (a hang), or at once (cut)
    started = time.monotonic()
    for token in unknown[1:]:
        with pytest.raises(IdentityProviderUnavailableError):
            await tokens.verify(token)
    assert time.monotonic() - started < 0.4  # nobody else waits for a provider known to be down
    assert provider.requests[JWKS] == 2
    provider.come_back()
    await asyncio.sleep(1.5)
    assert (await tokens.verify(provider.mint(newcomer, sub="newcomer"))).subject == "newcomer"


async def test_discovery_is_retried_until_it_works_then_read_once(provider, verifier):
    provider.go_down("cut")
    tokens = verifier(min_refetch_s=0.2)
    key = key_of(provider, "RS256")
    with pytest.raises(IdentityProviderUnavailableError):
        await tokens.verify(provider.mint(key))
    provider.come_back()
    await asyncio.sleep(0.2)
    assert await tokens.verify(provider.mint(key))
    for _ in range(2):
        await asyncio.sleep(0.2)
        with pytest.raises(ExternalTokenRejectedError):
            await tokens.verify(provider.mint(key, headers={"kid": "made-up"}))
    assert (provider.requests[DISCOVERY], provider.requests[JWKS]) == (2, 3)


async def test_a_discovery_document_naming_another_issuer_is_not_trusted(provider, verifier):
    provider.discovery_issuer = "https://impostor.example.com"
    with pytest.raises(IdentityProviderUnavailableError):
        await verifier().verify(provider.mint(key_of(provider, "RS256")))
    assert provider.requests[JWKS] == 0


async def outcome(verifying: Any) -> Any:
    """The claims, or the rejection, of one verification."""
    try:
        return await verifying
    except ExternalTokenRejectedError as e:
        return e


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_only_the_issuers_tokens_are_recognised(provider, verifier):
    tokens = verifier()
    assert tokens.recognises(provider.mint(key_of(provider, "RS256")))
    now = int(time.time())
    folios_own = jwt.encode({"iss": "folio", "sub": "7", "exp": now + 60}, "s" * 32, algorithm="HS256")
    assert not tokens.recognises(folios_own)
    for junk in ["", "a.b", "a.b.c", "!!!.!!!.!!!", "e30.W10.c2ln"]:  # the last: `{}` and `[]`, claims not an object
        assert not tokens.recognises(junk)
    assert provider.requests[JWKS] == 0  # routing costs the provider nothing
