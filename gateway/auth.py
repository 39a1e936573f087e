"""Bearer tokens: mint them, verify them once and remember the verified principal until it expires.

`Authenticator.principal` is the one authentication step, used by the Litestar middleware
(gateway/security.py) and by the portfolio fast lane (gateway/hot_path.py) alike.
"""

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

from config.jwt_keys import JwtKeys, load_jwt_keys
from config.settings import Settings, SettingsError

Scope = Literal["user", "operator"]
SCOPES: frozenset[str] = frozenset(("user", "operator"))
MAX_TOKEN_CHARS = 4096
_CHALLENGE = 'Bearer realm="folio"'
_MAX_USER_ID = 2**63 - 1


class AuthenticationError(NotAuthorizedException):
    """401 with a `WWW-Authenticate: Bearer` challenge (RFC 6750); the detail says what was wrong."""

    def __init__(self, detail: str, *, invalid_token: bool = True) -> None:
        challenge = f'{_CHALLENGE}, error="invalid_token"' if invalid_token else _CHALLENGE
        super().__init__(detail=detail, headers={"WWW-Authenticate": challenge})


class Principal:
    """Who is calling: a user (subject = their id) or an operator, valid until `expires_at` (epoch s)."""

    __slots__ = ("expires_at", "scope", "subject", "user_id")

    def __init__(self, subject: str, scope: Scope, expires_at: float) -> None:
        self.subject = subject
        self.scope = scope
        self.expires_at = expires_at
        self.user_id = int(subject) if scope == "user" else None

    @property
    def is_operator(self) -> bool:
        return self.scope == "operator"

    def may_access_user(self, user_id: int) -> bool:
        """A user reaches only their own data; an operator reaches everyone's."""
        return self.scope == "operator" or self.user_id == user_id


def mint_token(settings: Settings, *, subject: str, scope: Scope, ttl_s: int | None = None) -> str:
    """A signed token for `subject`; raises SettingsError when no signing key is configured."""
    keys = load_jwt_keys(settings)
    if keys.signing is None:
        raise SettingsError("JWT_PRIVATE_KEY_FILE is not set: this process can verify tokens but not mint them")
    _check_claims(subject, scope)
    now = datetime.now(UTC).replace(microsecond=0)
    claims = {
        "sub": subject,
        "scope": scope,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl_s or settings.token_ttl_s),
    }
    return jwt.encode(claims, keys.signing, algorithm=keys.algorithm)


def authorization_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The raw `Authorization` value from ASGI headers, without building a Headers object."""
    for name, value in headers:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


class Authenticator:
    """Verifies bearer tokens, remembering each verified one until its `exp` (bounded, oldest evicted first)."""

    def __init__(self, settings: Settings, keys: JwtKeys | None = None) -> None:
        self.keys = keys or load_jwt_keys(settings)
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.max_entries = settings.auth_cache_max
        self.max_rejected = settings.auth_negative_cache_max
        self.reject_for_s = settings.auth_negative_cache_s
        self.verified: dict[str, Principal] = {}
        self.rejected: dict[str, tuple[float, str]] = {}

    def principal(self, authorization: str | None) -> Principal:
        """The caller behind an `Authorization` header value; raises AuthenticationError (401)."""
        # Keyed by the whole header value: a hit costs one dict lookup and one clock read.
        found = self.verified.get(authorization) if authorization else None
        if found is not None and found.expires_at > time.time():
            return found
        if not authorization:
            raise AuthenticationError("this route needs an Authorization: Bearer token", invalid_token=False)
        return self._verify(authorization, time.time())

    def _verify(self, authorization: str, now: float) -> Principal:
        rejected = self.rejected.get(authorization)
        if rejected is not None and rejected[0] > now:
            raise AuthenticationError(rejected[1])
        try:
            principal = self._decode(authorization)
        except AuthenticationError as e:
            self._remember(self.rejected, authorization, (now + self.reject_for_s, e.detail), self.max_rejected)
            raise
        self.verified.pop(authorization, None)
        self._remember(self.verified, authorization, principal, self.max_entries)
        return principal

    def _decode(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        try:
            decoded = Token.decode(
                token,
                secret=self.keys.verifying,
                algorithm=self.keys.algorithm,  # pinned: `alg` in the header never picks the algorithm
                audience=self.audience,
                issuer=self.issuer,
                require_claims=("exp", "iat", "nbf", "iss", "aud", "sub", "scope"),
                strict_audience=True,
            )
        except NotAuthorizedException as e:
            raise AuthenticationError(_reason(e.__cause__)) from None
        scope: Any = decoded.extras.get("scope")
        try:
            _check_claims(decoded.sub, scope)
        except ValueError as e:
            raise AuthenticationError(f"the token is invalid: {e}") from None
        return Principal(decoded.sub, scope, decoded.exp.timestamp())

    @staticmethod
    def _remember(cache: dict[str, Any], token: str, value: Any, limit: int) -> None:
        if limit <= 0:
            return
        if len(cache) >= limit:
            del cache[next(iter(cache))]
        cache[token] = value


def _check_claims(subject: str, scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError("scope must be 'user' or 'operator'")
    if scope == "user" and not (subject.isdigit() and 0 < int(subject) <= _MAX_USER_ID and subject[0] != "0"):
        raise ValueError("a user token's subject must be the user's id")
    if not subject:
        raise ValueError("the subject must not be empty")


def _reason(cause: BaseException | None) -> str:
    if isinstance(cause, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(cause, jwt.ImmatureSignatureError):
        return "the token is not valid yet"
    return "the token is invalid"
