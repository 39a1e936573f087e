"""A web process builds the OpenID Connect verifier when OIDC_ISSUER is set, and fetches the keys at start."""

import asyncio
import time

import pytest

from config.settings import Settings
from config.wiring.web import open_web
from tests.conftest import with_settings
from tests.oidc_provider import AUDIENCE, DISCOVERY, JWKS, running_provider

pytestmark = pytest.mark.integration


async def test_with_an_issuer_the_web_services_verify_its_tokens_with_keys_fetched_at_start(settings: Settings):
    with running_provider("EdDSA") as provider:
        key = next(iter(provider.keys.values()))
        configured = with_settings(settings, oidc_issuer=provider.issuer, oidc_audience=AUDIENCE)
        async with open_web(configured) as services:
            assert services.external_tokens is not None
            deadline = time.monotonic() + 5
            while provider.requests[JWKS] == 0:  # fetched in the background, before any token arrives
                assert time.monotonic() < deadline, "the keys were not fetched at start"
                await asyncio.sleep(0.02)
            verified = await services.external_tokens.verify(provider.mint(key, sub="auth0|wired"))
            assert verified.subject == "auth0|wired"
        asked = dict(provider.requests)
        await asyncio.sleep(0.2)
        assert dict(provider.requests) == asked == {DISCOVERY: 1, JWKS: 1}  # nothing more once closed


async def test_without_an_issuer_there_is_no_external_verifier(settings: Settings):
    assert settings.oidc_issuer == ""
    async with open_web(settings) as services:
        assert services.external_tokens is None
