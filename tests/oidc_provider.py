"""A real OpenID Connect provider for the tests: discovery and a JWK set over HTTP on 127.0.0.1.

It mints RS256, ES256 and EdDSA access tokens with a `kid`, rotates and retires keys while a test runs,
goes down (`go_down("cut")`: connections closed unanswered; `go_down("hang")`: requests never answered)
and comes back, and counts the requests it received by path.

It also signs people in with the authorization code flow and PKCE: its authorization endpoint approves at once
as `sign_in_as` (claims a test sets: the user, their roles) and redirects back with a code; its token endpoint
checks the client's authentication (Basic or in the form), the code (once), the redirect URI and the PKCE
verifier, and answers with an ID token (plus `id_token_claims`, to spoil it on purpose) and an access token.
"""

import base64
import collections
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

AUDIENCE = "folio-api-tests"
REALM = "/realms/folio"  # issuers often have a path (Keycloak's realms): discovery must keep it
DISCOVERY = f"{REALM}/.well-known/openid-configuration"
JWKS = f"{REALM}/protocol/openid-connect/certs"
AUTHORIZE = f"{REALM}/protocol/openid-connect/auth"
TOKEN = f"{REALM}/protocol/openid-connect/token"
CLIENT_ID = "folio-console-tests"
CLIENT_SECRET = "console secret: with a colon & spaces"  # form-encoded in Basic authentication
Algorithm = Literal["RS256", "ES256", "EdDSA"]
Mode = Literal["up", "cut", "hang"]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: Any  # a cryptography private key
    jwk: dict[str, Any]  # the public half, as published


def new_key(algorithm: Algorithm = "RS256", *, kid: str | None = None, with_alg: bool = True) -> SigningKey:
    """A fresh key pair; `with_alg=False` publishes it without `alg`, as some providers do."""
    private: Any
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    kid = kid or f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
    jwk = get_default_algorithms()[algorithm].to_jwk(private.public_key(), as_dict=True)
    jwk.update({"kid": kid, "use": "sig"})
    if with_alg:
        jwk["alg"] = algorithm
    return SigningKey(kid, algorithm, private, jwk)


@dataclass(frozen=True)
class Grant:
    """An issued code, waiting for the token request that uses it (once)."""

    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    claims: dict[str, Any]


class OidcProvider:
    """Serves until `close()`; `keys` are the published ones (`publish`, `retire`, `rotate`)."""

    def __init__(self) -> None:
        self.keys: dict[str, SigningKey] = {}
        self.extra_jwks: list[dict[str, Any]] = []  # published as they are (a symmetric key, a broken one)
        self.requests: collections.Counter[str] = collections.Counter()
        self.mode: Mode = "up"
        self.discovery_issuer: str | None = None  # what discovery says the issuer is (None: the real one)
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.auth_methods: list[str] | None = None  # token_endpoint_auth_methods_supported (None: not published)
        self.sign_in_as: dict[str, Any] = {"sub": "idp|ada", "preferred_username": "ada"}
        self.id_token_claims: dict[str, Any] = {}  # laid over every ID token's claims (None removes one)
        self.deny = False  # the authorization endpoint answers `error=access_denied`
        self.codes: dict[str, Grant] = {}
        self.client_auth: list[str] = []  # how each token request authenticated: "basic", "post" or "none"
        self._lock = threading.Lock()
        self._awake = threading.Event()  # set: hung requests give up
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}{REALM}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def publish(self, key: SigningKey) -> SigningKey:
        with self._lock:
            self.keys[key.kid] = key
        return key

    def add_key(self, algorithm: Algorithm = "RS256", **options: Any) -> SigningKey:
        return self.publish(new_key(algorithm, **options))

    def retire(self, key: SigningKey) -> None:
        with self._lock:
            self.keys.pop(key.kid, None)

    def rotate(self, algorithm: Algorithm = "RS256") -> SigningKey:
        """A new key published in place of all the others."""
        key = new_key(algorithm)
        with self._lock:
            self.keys = {key.kid: key}
        return key

    def mint(self, key: SigningKey, *, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """An access token signed with `key`; a claim given as None is left out."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": AUDIENCE, "sub": "auth0|user-42", "iat": now, "nbf": now, "exp": now + 600}
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key.private, algorithm=key.algorithm, headers={"kid": key.kid, **(headers or {})})

    def authorize(self, query: str) -> str:
        """Where the browser goes next: back to the client with a code (or an error), as `sign_in_as`."""
        params = dict(parse_qsl(query))
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or params.get("response_type") != "code" or not redirect_uri:
            raise ValueError("not a code request of the known client")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise ValueError("PKCE with S256 is required")
        back = {"state": params.get("state", "")}
        if self.deny:
            back["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(16)
            with self._lock:
                self.codes[code] = Grant(
                    self.client_id, redirect_uri, params["code_challenge"], params.get("nonce"), dict(self.sign_in_as)
                )
            back["code"] = code
        return f"{redirect_uri}?{urlencode(back)}"

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """The token endpoint's status and answer (RFC 6749, section 4.1.3; RFC 7636, section 4.6)."""
        client = _client_of(form, authorization)
        self.client_auth.append(client[2])
        if client[:2] != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        with self._lock:
            grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if grant is None or grant.redirect_uri != form.get("redirect_uri") or grant.challenge != challenge:
            return 400, {"error": "invalid_grant"}
        key = next(iter(self.keys.values()))
        claims = {"aud": self.client_id, "azp": self.client_id, "nonce": grant.nonce, **grant.claims}
        id_token = self.mint(key, **{**claims, **self.id_token_claims})
        access_token = self.mint(key, sub=grant.claims.get("sub"))
        return 200, {"id_token": id_token, "access_token": access_token, "token_type": "Bearer", "expires_in": 600}

    def go_down(self, mode: Mode = "cut") -> None:
        self._awake.clear()
        self.mode = mode

    def come_back(self) -> None:
        self.mode = "up"
        self._awake.set()

    def close(self) -> None:
        self._awake.set()
        self._server.shutdown()
        self._server.server_close()

    def _document(self, path: str) -> dict[str, Any] | None:
        if path == DISCOVERY:
            base = self.issuer.removesuffix(REALM)
            document = {
                "issuer": self.discovery_issuer or self.issuer,
                "jwks_uri": base + JWKS,
                "authorization_endpoint": base + AUTHORIZE,
                "token_endpoint": base + TOKEN,
                "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            }
            if self.auth_methods is not None:
                document["token_endpoint_auth_methods_supported"] = self.auth_methods
            return document
        if path == JWKS:
            with self._lock:
                return {"keys": [key.jwk for key in self.keys.values()] + self.extra_jwks}
        return None


def _client_of(form: dict[str, str], authorization: str | None) -> tuple[str, str, str]:
    """(client id, secret, how it was sent): HTTP Basic, each part form-encoded (RFC 6749, section 2.3.1), or
    the form's `client_secret`."""
    if authorization and authorization.startswith("Basic "):
        name, _, secret = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
        return unquote(name), unquote(secret), "basic"
    if "client_secret" in form:
        return form.get("client_id", ""), form["client_secret"], "post"
    return form.get("client_id", ""), "", "none"


class _Handler(BaseHTTPRequestHandler):
    provider: OidcProvider  # set by `_handler`

    def _reachable(self) -> bool:
        with self.provider._lock:
            self.provider.requests[urlsplit(self.path).path] += 1
        if self.provider.mode == "hang":
            self.provider._awake.wait(30)
        if self.provider.mode != "up":
            self.close_connection = True  # nothing written: the client hears no answer
            return False
        return True

    def do_GET(self) -> None:
        if not self._reachable():
            return
        url = urlsplit(self.path)
        if url.path == AUTHORIZE:
            self._authorize(url.query)
            return
        document = self.provider._document(self.path)
        self._json(200 if document is not None else 404, document)

    def _authorize(self, query: str) -> None:
        try:
            back = self.provider.authorize(query)
        except ValueError as e:
            self._json(400, {"error": "invalid_request", "error_description": str(e)})
            return
        self.send_response(302)
        self.send_header("Location", back)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        if not self._reachable():
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if urlsplit(self.path).path != TOKEN:
            self._json(404, None)
            return
        self._json(*self.provider.token(dict(parse_qsl(body)), self.headers.get("Authorization")))

    def _json(self, status: int, document: Any) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet: the test reads `requests`
        pass


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"provider": provider})


@contextmanager
def running_provider(*algorithms: Algorithm) -> Iterator[OidcProvider]:
    """A provider publishing one key of each of `algorithms` (default: one RS256 key)."""
    provider = OidcProvider()
    for algorithm in algorithms or ("RS256",):
        provider.add_key(algorithm)
    try:
        yield provider
    finally:
        provider.close()
