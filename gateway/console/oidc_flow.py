"""One sign-in through the identity provider, carried by the browser between the start and the callback.

The sign-in's `state`, `nonce` and PKCE verifier live in a short-lived cookie, `<payload>.<HMAC-SHA256>`, keyed
by a key derived from the console's session secret under a label of its own (so a flow cookie is never taken
for a session): any web process on any instance finishes a sign-in another one started, and nothing is kept in
memory. The cookie is SameSite=Lax, since the provider's redirect back is a cross-site navigation that a Strict
cookie would not follow, and it is cleared by the callback, whatever the outcome.
"""

import base64
import hashlib
import hmac
import secrets
import time

import msgspec

FLOW_COOKIE = "folio_console_oidc"
FLOW_PATH = "/console/oidc"
FLOW_TTL_S = 600  # long enough to type a password and a second factor at the provider
_KEY_LABEL = b"folio console oidc flow v1"
_MAX_COOKIE_CHARS = 1024


class SignInFlow(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    state: str
    nonce: str
    verifier: str  # PKCE (RFC 7636): the provider is sent its S256 challenge, the token endpoint the verifier
    expires_at: float

    @property
    def challenge(self) -> str:
        return _b64(hashlib.sha256(self.verifier.encode()).digest())


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(SignInFlow)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class FlowSigner:
    """Starts sign-ins and reads them back from their cookie; `secure` adds the Secure flag (outside development)."""

    def __init__(self, secret: bytes, *, secure: bool, ttl_s: int = FLOW_TTL_S) -> None:
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()
        self.secure = secure
        self.ttl_s = ttl_s

    def start(self, now: float | None = None) -> tuple[str, SignInFlow]:
        """A new sign-in, as (cookie value, flow): each value is 256 random bits."""
        now = time.time() if now is None else now
        flow = SignInFlow(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),  # 64 characters: RFC 7636 asks for 43 to 128
            expires_at=now + self.ttl_s,
        )
        payload = _b64(_encoder.encode(flow))
        return f"{payload}.{self._sign(payload)}", flow

    def read(self, cookie: str | None, now: float | None = None) -> SignInFlow | None:
        """The sign-in a cookie carries; None when it is absent, forged or expired."""
        if not cookie or len(cookie) > _MAX_COOKIE_CHARS:
            return None
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            flow = _decoder.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (msgspec.DecodeError, ValueError):
            return None
        return flow if flow.expires_at > (time.time() if now is None else now) else None

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())
