"""Console sessions: an operator token exchanged for a signed cookie, and the session's CSRF token.

A session is a signed value, not a row: `<payload>.<HMAC-SHA256>`, keyed by a key derived from
API_KEY_SECRET, so every web process on every instance accepts it without a shared store and nothing
is written per sign-in. It carries the operator's name, role, the token's issue time (so revoking the
operator's tokens ends their console sessions too) and an expiry no later than the token's own. Signing
out clears the cookie. The CSRF token is an HMAC of the session's random id: the page reads it from
`GET /console/session` and sends it in `X-CSRF-Token` with every action; a cross-site page can neither
read it nor (SameSite=Strict) send the cookie.
"""

import base64
import hashlib
import hmac
import secrets
import time
from typing import Literal

import msgspec

from gateway.auth import Principal

COOKIE = "folio_console"
CSRF_HEADER = "x-csrf-token"
_KEY_LABEL = b"folio console session v1"

Role = Literal["read", "admin"]


class ConsoleSession(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    sid: str  # random: names the session, and its CSRF token derives from it
    operator: str
    role: Role
    issued_at: float  # the token's `iat`, compared with the operator's revocation watermark
    expires_at: float

    @property
    def actor(self) -> str:
        return f"operator:{self.operator}"


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ConsoleSession)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and reads session cookies; `secure` adds the cookie's Secure flag (outside development)."""

    def __init__(self, secret: bytes, *, ttl_s: int, secure: bool) -> None:
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self.secure = secure

    def issue(self, principal: Principal, now: float | None = None) -> tuple[str, ConsoleSession]:
        """A new session for an operator's verified token, as (cookie value, session)."""
        now = time.time() if now is None else now
        session = ConsoleSession(
            sid=secrets.token_urlsafe(16),
            operator=principal.subject,
            role="read" if principal.read_only else "admin",
            issued_at=principal.issued_at,
            expires_at=min(now + self.ttl_s, principal.expires_at),
        )
        payload = _b64(_encoder.encode(session))
        return f"{payload}.{self._sign(payload)}", session

    def read(self, cookie: str | None, not_before: dict[str, float], now: float | None = None) -> ConsoleSession | None:
        """The session a cookie carries; None when it is absent, forged, expired or revoked."""
        if not cookie or len(cookie) > 1024:
            return None
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            session = _decoder.decode(_unb64(payload))
        except (msgspec.DecodeError, ValueError):
            return None
        now = time.time() if now is None else now
        if session.expires_at <= now or session.issued_at < not_before.get(session.actor, 0.0):
            return None
        return session

    def csrf(self, session: ConsoleSession) -> str:
        return self._sign(f"csrf|{session.sid}")

    def csrf_ok(self, session: ConsoleSession, header: str | None) -> bool:
        return header is not None and hmac.compare_digest(header, self.csrf(session))

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())
