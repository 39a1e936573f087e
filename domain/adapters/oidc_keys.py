"""An OpenID Connect issuer's signing keys, as the verifier needs them: never a round trip on a request
whose key is known, at most one fetch per `min_refetch_s` for keys that are not, and the keys already
known kept while the issuer cannot be reached.

The issuer's discovery document (`/.well-known/openid-configuration`) names its JWKS; it is read once, on
the first fetch, and read again only while it has not been read successfully. Each successful fetch
replaces the whole key set, so a key the issuer stopped publishing stops verifying at the next fetch.
A fetch runs in a task of its own that every request waiting for it shares; httpx does the HTTP without
blocking the event loop, and PyJWT turns each JWK into a key.
"""

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
from jwt import PyJWK, PyJWTError

from domain.errors import ExternalTokenRejectedError, IdentityProviderUnavailableError

log = logging.getLogger("folio.oidc")

DISCOVERY_PATH = "/.well-known/openid-configuration"
MAX_DOCUMENT_BYTES = 256 * 1024  # a discovery document or key set is a few KB; more is refused, not buffered
_LOOPBACK = frozenset(("127.0.0.1", "::1", "localhost"))


class KeySetError(Exception):
    """The issuer answered, but not with a usable discovery document or key set."""


class IssuerKeys:
    """The issuer's signing keys by `kid`, cached; `run()` refreshes them in the background."""

    def __init__(
        self,
        issuer: str,
        *,
        algorithms: Collection[str],
        refresh_s: float,
        min_refetch_s: float,
        timeout_s: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._issuer = issuer
        self._algorithms = frozenset(algorithms)
        self._refresh_s = refresh_s
        self._min_refetch_s = min_refetch_s
        self._timeout_s = timeout_s
        self._client = client or httpx.AsyncClient(timeout=timeout_s, headers={"Accept": "application/json"})
        self._keys: dict[str, PyJWK] = {}
        self._jwks_uri: str | None = None
        self._fetch: asyncio.Task[None] | None = None  # the one fetch in flight, shared by every waiter
        self._last_fetch_at = -math.inf  # monotonic start of the latest fetch, whatever caused it
        self._last_fetch_ok = False

    async def key(self, kid: str) -> PyJWK:
        """The key `kid`, fetching the key set first when it is unknown and no fetch started lately.

        Raises:
            ExternalTokenRejectedError: the issuer's latest key set, fetched successfully, has no key `kid`.
            IdentityProviderUnavailableError: `kid` is unknown and the latest fetch failed.
        """
        found = self._keys.get(kid)
        if found is not None:
            return found
        task = self._fetch or (self._start_fetch() if self._may_refetch() else None)
        if task is not None:
            await asyncio.shield(task)  # a waiter that gives up does not cancel the others' fetch
            found = self._keys.get(kid)
            if found is not None:
                return found
        if not self._last_fetch_ok:
            raise IdentityProviderUnavailableError()
        raise ExternalTokenRejectedError("the token's key (kid) is not one the issuer publishes")

    async def run(self) -> None:
        """Fetch now, then every `refresh_s` after the latest fetch (every `min_refetch_s` while they fail)."""
        while True:
            pause = self._refresh_s if self._last_fetch_ok else self._min_refetch_s
            wait = self._last_fetch_at + pause - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # then look again: a request may have caused a fetch meanwhile
                continue
            await asyncio.shield(self._fetch or self._start_fetch())

    async def aclose(self) -> None:
        fetch = self._fetch
        if fetch is not None:
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetch
        await self._client.aclose()

    def _may_refetch(self) -> bool:
        # Counted from any fetch, the periodic one included: a flood of made-up kids costs the issuer
        # one request per interval, and right after a refresh an unknown kid is simply not published.
        return time.monotonic() - self._last_fetch_at >= self._min_refetch_s

    def _start_fetch(self) -> asyncio.Task[None]:
        self._last_fetch_at = time.monotonic()
        self._fetch = asyncio.create_task(self._refresh(), name="oidc-keys-fetch")
        return self._fetch

    async def _refresh(self) -> None:
        try:
            self._keys = await self._fetch_keys()
            self._last_fetch_ok = True
        except (httpx.HTTPError, KeySetError, TimeoutError) as e:
            self._last_fetch_ok = False
            log.warning("the identity provider's keys could not be fetched (%d keys kept): %s", len(self._keys), e)
        finally:
            self._fetch = None

    async def _fetch_keys(self) -> dict[str, PyJWK]:
        if self._jwks_uri is None:
            self._jwks_uri = jwks_uri_of(await self._get(discovery_url(self._issuer)), self._issuer)
        return signing_keys(await self._get(self._jwks_uri), self._algorithms)

    async def _get(self, url: str) -> dict[str, object]:
        return await fetch_json(self._client, "GET", url, timeout_s=self._timeout_s)


async def fetch_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeout_s: float,
    ok: Collection[int] = (httpx.codes.OK,),
    **request: Any,
) -> dict[str, object]:
    """A JSON object from the provider, within `timeout_s` in all and `MAX_DOCUMENT_BYTES`; raises KeySetError
    for another status than `ok`, for a body that is too large or not a JSON object, and httpx's errors."""
    body = bytearray()
    async with asyncio.timeout(timeout_s), client.stream(method, url, **request) as response:
        if response.status_code not in ok:
            raise KeySetError(f"{url} answered {response.status_code}")
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_DOCUMENT_BYTES:
                raise KeySetError(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise KeySetError(f"{url} did not answer with JSON") from None
    if not isinstance(document, dict):
        raise KeySetError(f"{url} did not answer with a JSON object")
    return document


def discovery_url(issuer: str) -> str:
    """Where the issuer's discovery document is (OpenID Connect Discovery 1.0, section 4)."""
    return issuer.rstrip("/") + DISCOVERY_PATH


def is_trusted_url(url: str) -> bool:
    """https, or plain http to this machine only (a provider a developer or a test runs locally)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in _LOOPBACK


def jwks_uri_of(document: dict[str, object], issuer: str) -> str:
    """The key set's address from a discovery document, which must name exactly the configured issuer."""
    if document.get("issuer") != issuer:  # Discovery section 4.3: a mismatch means another issuer's keys
        raise KeySetError(f"the discovery document names the issuer {document.get('issuer')!r}, not {issuer!r}")
    uri = document.get("jwks_uri")
    if not isinstance(uri, str) or not is_trusted_url(uri):
        raise KeySetError("the discovery document names no https jwks_uri")
    return uri


def signing_keys(document: dict[str, object], algorithms: Collection[str]) -> dict[str, PyJWK]:
    """The signature keys of a JWK set that verify one of `algorithms`, by `kid`.

    Each key is bound to one algorithm (its `alg`, else its type's: RSA RS256, EC by curve, Ed25519 EdDSA),
    so a token's `alg` never chooses how a key is used. Symmetric (`oct`) and encryption keys are left out.
    """
    listed = document.get("keys")
    if not isinstance(listed, list):
        raise KeySetError("the key set has no `keys` list")
    keys: dict[str, PyJWK] = {}
    for jwk in listed:
        # A key in a public set is no secret: a symmetric (`oct`) one would let anybody sign.
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or jwk.get("kty") == "oct":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys:  # tokens must name their key; the first one wins
            continue
        try:
            key = PyJWK(jwk)
        except (PyJWTError, ValueError, TypeError, KeyError):  # a key type or curve PyJWT cannot use: skip it
            continue
        if key.algorithm_name in algorithms:
            keys[kid] = key
    if not keys:
        raise KeySetError("the key set holds no signature key for an accepted algorithm")
    return keys
