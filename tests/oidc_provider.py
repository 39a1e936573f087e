"""A real OpenID Connect provider for the tests: discovery and a JWK set over HTTP on 127.0.0.1.

It mints RS256, ES256 and EdDSA access tokens with a `kid`, rotates and retires keys while a test runs,
goes down (`go_down("cut")`: connections closed unanswered; `go_down("hang")`: requests never answered)
and comes back, and counts the requests it received by path.
"""

import collections
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

AUDIENCE = "folio-api-tests"
REALM = "/realms/folio"  # issuers often have a path (Keycloak's realms): discovery must keep it
DISCOVERY = f"{REALM}/.well-known/openid-configuration"
JWKS = f"{REALM}/protocol/openid-connect/certs"
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


class OidcProvider:
    """Serves until `close()`; `keys` are the published ones (`publish`, `retire`, `rotate`)."""

    def __init__(self) -> None:
        self.keys: dict[str, SigningKey] = {}
        self.extra_jwks: list[dict[str, Any]] = []  # published as they are (a symmetric key, a broken one)
        self.requests: collections.Counter[str] = collections.Counter()
        self.mode: Mode = "up"
        self.discovery_issuer: str | None = None  # what discovery says the issuer is (None: the real one)
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
            return {
                "issuer": self.discovery_issuer or self.issuer,
                "jwks_uri": self.issuer.removesuffix(REALM) + JWKS,
                "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            }
        if path == JWKS:
            with self._lock:
                return {"keys": [key.jwk for key in self.keys.values()] + self.extra_jwks}
        return None


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with provider._lock:
                provider.requests[self.path] += 1
            if provider.mode == "hang":
                provider._awake.wait(30)
            if provider.mode != "up":
                self.close_connection = True  # nothing written: the client hears no answer
                return
            document = provider._document(self.path)
            body = json.dumps(document).encode()
            self.send_response(200 if document is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet: the test reads `requests`
            pass

    return Handler


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
