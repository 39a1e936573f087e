"""The console's sign-in through the OpenID Connect provider: the authorization code flow with PKCE, as a
confidential client (OpenID Connect Core 1.0, section 3.1).

The provider's endpoints come from its discovery document, read on the first sign-in and kept once read. The
code is exchanged at the `token_endpoint` with HTTP Basic client authentication, or with the secret in the form
when the provider lists only `client_secret_post`. The ID token is checked with the same key set and code as the
provider's access tokens (domain/adapters/oidc.py), for this client's audience and the sign-in's nonce.
"""

import base64
import hmac
import logging
from collections.abc import Collection
from urllib.parse import quote, urlencode

import httpx

from domain.adapters.oidc import verified_payload
from domain.adapters.oidc_keys import IssuerKeys, KeySetError, discovery_url, fetch_json, is_trusted_url
from domain.errors import ExternalTokenRejectedError, IdentityProviderUnavailableError, SignInRefusedError
from domain.models.identity import SignedInIdentity, signed_in_identity
from domain.ports.identity import OperatorSignIn

log = logging.getLogger("folio.oidc")

SCOPE = "openid profile email"
ID_TOKEN_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_REFUSALS = (httpx.codes.OK, httpx.codes.BAD_REQUEST, httpx.codes.UNAUTHORIZED)  # RFC 6749, section 5.2


class Endpoints:
    def __init__(self, document: dict[str, object], issuer: str) -> None:
        if document.get("issuer") != issuer:  # Discovery, section 4.3
            raise KeySetError(f"the discovery document names the issuer {document.get('issuer')!r}, not {issuer!r}")
        self.authorization = _url(document, "authorization_endpoint")
        self.token = _url(document, "token_endpoint")
        methods = document.get("token_endpoint_auth_methods_supported")
        # Absent means client_secret_basic (Discovery, section 3); post only when it is all the provider takes.
        self.post_secret = (
            isinstance(methods, list) and "client_secret_post" in methods and ("client_secret_basic" not in methods)
        )


class OidcOperatorSignIn(OperatorSignIn):
    """One client of one issuer; `aclose()` stops its HTTP client (the key set is the access tokens' own)."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        keys: IssuerKeys,
        algorithms: Collection[str],
        leeway_s: float,
        roles_claim: str,
        timeout_s: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._issuer = issuer
        self._client_id = client_id
        self._client_secret = client_secret
        self._keys = keys
        self._algorithms = sorted(set(algorithms))
        self._leeway_s = leeway_s
        self._roles_claim = roles_claim
        self._timeout_s = timeout_s
        self._client = client or httpx.AsyncClient(timeout=timeout_s, headers={"Accept": "application/json"})
        self._endpoints: Endpoints | None = None

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str) -> str:
        endpoint = (await self._discover()).authorization
        query = urlencode({
            "response_type": "code", "client_id": self._client_id, "redirect_uri": redirect_uri, "scope": SCOPE,
            "state": state, "nonce": nonce, "code_challenge": code_challenge, "code_challenge_method": "S256",
        })  # fmt: skip
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def finish(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> SignedInIdentity:
        id_token = await self._exchange(code, redirect_uri, code_verifier)
        payload = await verified_payload(
            id_token, self._keys, algorithms=self._algorithms, issuer=self._issuer, audience=self._client_id,
            leeway_s=self._leeway_s, required=ID_TOKEN_CLAIMS,
        )  # fmt: skip
        sent = payload.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise ExternalTokenRejectedError("the ID token is not the answer to this sign-in (nonce)")
        azp = payload.get("azp")
        if azp is not None and azp != self._client_id:  # Core, section 3.1.3.7, item 5
            raise ExternalTokenRejectedError("the ID token was issued to another client (azp)")
        return signed_in_identity(payload, self._roles_claim)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _exchange(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        endpoints = await self._discover()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": code_verifier, "client_id": self._client_id}  # fmt: skip
        headers = {}
        if endpoints.post_secret:
            form["client_secret"] = self._client_secret
        elif self._client_secret:
            headers["Authorization"] = basic_credentials(self._client_id, self._client_secret)
        try:
            answer = await fetch_json(
                self._client, "POST", endpoints.token, timeout_s=self._timeout_s, ok=_REFUSALS, data=form,
                headers=headers,
            )  # fmt: skip
        except (httpx.HTTPError, KeySetError, TimeoutError) as e:
            log.warning("the identity provider's token endpoint did not answer: %r", e)
            raise IdentityProviderUnavailableError("the identity provider cannot be reached") from None
        if "error" in answer:
            raise SignInRefusedError(f"the identity provider refused the sign-in ({_error_of(answer)})")
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignInRefusedError("the identity provider sent no ID token (is `openid` among the client's scopes?)")
        return id_token

    async def _discover(self) -> Endpoints:
        if self._endpoints is None:
            try:
                document = await fetch_json(self._client, "GET", discovery_url(self._issuer), timeout_s=self._timeout_s)
                self._endpoints = Endpoints(document, self._issuer)
            except (httpx.HTTPError, KeySetError, TimeoutError) as e:
                log.warning("the identity provider's discovery document could not be read: %s", e)
                raise IdentityProviderUnavailableError("the identity provider cannot be reached to sign in") from None
        return self._endpoints


def basic_credentials(client_id: str, secret: str) -> str:
    """HTTP Basic client authentication, each part form-encoded first as RFC 6749 (section 2.3.1) says."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _url(document: dict[str, object], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not is_trusted_url(value):
        raise KeySetError(f"the discovery document names no https {name}")
    return value


def _error_of(answer: dict[str, object]) -> str:
    error = answer.get("error")
    return error[:64] if isinstance(error, str) else "an error"
