"""Bearer credentials: mint JWTs, verify a JWT or an API key once and remember the principal.

`Authenticator.principal` is the one authentication step, used by the Litestar middleware
(gateway/security.py) and by the portfolio fast lane (gateway/hot_path.py) alike; `cached` is its
first part, a dict lookup. A remembered principal is refused as soon as this process learns that it
was revoked (a key revoked, the user's sessions revoked after it was issued): the revocation watch's
`not_before`, keyed by the principal's actor, is checked on every lookup.
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
from config.wiring.web import WebServices
from domain.errors import CredentialRejectedError, ExternalTokenRejectedError
from domain.models.api_keys import KEY_SCOPES, ApiKey, is_key
from domain.models.identity import ExternalClaims
from domain.ports.identity import ExternalTokens
from domain.services.api_keys import ApiKeyService
from domain.services.revocations import RevocationWatch, key_actor
from domain.services.sign_in import ExternalSignIn

Scope = Literal["user", "operator"]
Role = Literal["read", "admin"]  # an operator token's `role` claim; a token without one is `admin`
Kind = Literal["jwt", "key", "oidc"]
SCOPES: frozenset[str] = frozenset(("user", "operator"))
ROLES: frozenset[str] = frozenset(("read", "admin"))
MAX_TOKEN_CHARS = 4096
_CHALLENGE = 'Bearer realm="folio"'
_MAX_USER_ID = 2**63 - 1
IDENTIFIED_MAX = 4096  # decoded tokens awaiting their request's verification: first sights in flight


class AuthenticationError(NotAuthorizedException):
    """401 with a `WWW-Authenticate: Bearer` challenge (RFC 6750); the detail says what was wrong."""

    def __init__(self, detail: str, *, invalid_token: bool = True) -> None:
        challenge = f'{_CHALLENGE}, error="invalid_token"' if invalid_token else _CHALLENGE
        super().__init__(detail=detail, headers={"WWW-Authenticate": challenge})


class Principal:
    """Who is calling: a user (subject = their id) or an operator, valid until `expires_at` (epoch s).

    `scopes` is None for a token (every scope) and a key's scopes for a key; `issued_at` is compared
    with the revocation watermark of `actor` (`user:<id>`, `operator:<name>`, `apikey:<id>`). An operator
    with `read_only` (a token whose `role` claim is `read`) sees everything and changes nothing.
    """

    __slots__ = (
        "actor", "expires_at", "issued_at", "key_id", "kind", "read_only", "scope", "scopes", "subject", "user_id",
    )  # fmt: skip

    def __init__(
        self,
        subject: str,
        scope: Scope,
        expires_at: float,
        *,
        issued_at: float = 0.0,
        kind: Kind = "jwt",
        scopes: frozenset[str] | None = None,
        key_id: str | None = None,
        read_only: bool = False,
    ) -> None:
        self.subject = subject
        self.read_only = read_only and scope == "operator"
        self.scope = scope
        self.expires_at = expires_at
        self.issued_at = issued_at
        self.kind = kind
        self.scopes = scopes
        self.key_id = key_id
        self.user_id = int(subject) if scope == "user" else None
        self.actor = key_actor(key_id) if key_id is not None else f"{scope}:{subject}"

    @property
    def is_operator(self) -> bool:
        return self.scope == "operator"

    def may_access_user(self, user_id: int) -> bool:
        """A user reaches only their own data; an operator reaches everyone's."""
        return self.scope == "operator" or self.user_id == user_id

    def has_scope(self, scope: str | None) -> bool:
        """Whether the credential may do what a route needs (`None`: a route no key may call)."""
        return self.scopes is None or (scope is not None and scope in self.scopes)


def key_principal(key: ApiKey, now: float, cache_s: float) -> Principal:
    """The principal of a verified key, remembered until it expires or for `cache_s` (then read again)."""
    expires_at = now + cache_s if key.expires_at is None else min(now + cache_s, key.expires_at.timestamp())
    return Principal(
        str(key.user_id),
        "user",
        expires_at,
        issued_at=key.created_at.timestamp(),
        kind="key",
        scopes=frozenset(key.scopes),
        key_id=key.id,
    )


def external_principal(user_id: int, claims: ExternalClaims, now: float, cache_s: float) -> Principal:
    """The principal of an identity provider's verified token: its user, within the Folio scopes the token
    names (`read`, `trade`, `reports`), or as the user's own token when it names none. Remembered until the
    token expires, and at most `cache_s` (the subject's link to the user is read again then)."""
    named = claims.scopes.intersection(KEY_SCOPES)
    return Principal(
        str(user_id),
        "user",
        min(claims.expires_at, now + cache_s),
        issued_at=claims.issued_at,
        kind="oidc",
        scopes=frozenset(named) if named else None,
    )


def mint_token(
    settings: Settings, *, subject: str, scope: Scope, ttl_s: int | None = None, role: Role | None = None
) -> str:
    """A signed token for `subject` (an operator's with a `role` claim when `role` is given); raises
    SettingsError when no signing key is configured."""
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
    if role is not None:
        if scope != "operator" or role not in ROLES:
            raise ValueError("only an operator token has a role: 'read' or 'admin'")
        claims["role"] = role
    return jwt.encode(claims, keys.signing, algorithm=keys.algorithm)


def authorization_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The raw `Authorization` value from ASGI headers, without building a Headers object."""
    for name, value in headers:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


class Authenticator:
    """Verifies bearer credentials, remembering each verified one until it expires (bounded, oldest out first).

    JWTs are checked here; API keys by the key service, and a user's token watermark by the revocation
    watch, both attached when the web services open (`attach`).
    """

    def __init__(self, settings: Settings, keys: JwtKeys | None = None) -> None:
        self.keys = keys or load_jwt_keys(settings)
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.max_entries = settings.auth_cache_max
        self.max_rejected = settings.auth_negative_cache_max
        self.reject_for_s = settings.auth_negative_cache_s
        self.key_cache_s = settings.api_key_cache_s
        self.verified: dict[str, Principal] = {}
        self.rejected: dict[str, tuple[float, str]] = {}
        self.not_before: dict[str, float] = {}
        self.api_keys: ApiKeyService | None = None
        self.revocations: RevocationWatch | None = None
        self.external: ExternalTokens | None = None
        self.sign_in: ExternalSignIn | None = None
        self._identified: dict[str, Principal] = {}  # tokens `identify` decoded, until `principal` verifies them

    def attach(self, services: WebServices) -> None:
        """Use the web services' key store and revocation watch (the lifespan calls this at startup)."""
        self.api_keys = services.api_keys
        self.revocations = services.revocations
        self.not_before = services.revocations.not_before
        self.external = services.external_tokens
        self.sign_in = services.sign_in

    def cached(self, authorization: str | None) -> Principal | None:
        """The remembered principal, unless it expired or was revoked: the hot path's whole authentication."""
        # Keyed by the whole header value: a hit costs two dict lookups and one clock read.
        found = self.verified.get(authorization) if authorization else None
        if found is None:
            return None
        now = time.time()
        if found.expires_at <= now or found.issued_at < self.not_before.get(found.actor, 0.0):
            return None
        if found.key_id is not None and self.api_keys is not None:
            self.api_keys.touch(found.key_id, now)
        return found

    async def principal(self, authorization: str | None) -> Principal:
        """The caller behind an `Authorization` header value; raises AuthenticationError (401), or
        UnavailableError (503) when a first sight of a key or a user needs the database and it is down."""
        found = self.cached(authorization)
        if found is not None:
            return found
        if not authorization:
            raise AuthenticationError("this route needs an Authorization: Bearer token", invalid_token=False)
        now = time.time()
        rejected = self.rejected.get(authorization)
        if rejected is not None and rejected[0] > now:
            raise AuthenticationError(rejected[1])
        try:
            principal = await self._verify(authorization, now)
        except AuthenticationError as e:
            self._remember(self.rejected, authorization, (now + self.reject_for_s, e.detail), self.max_rejected)
            raise
        self.verified.pop(authorization, None)
        self._remember(self.verified, authorization, principal, self.max_entries)
        return principal

    def identify(self, authorization: str) -> Principal | None:
        """Who a request claims to be, without any I/O (the rate limiter's key): a remembered principal, or a
        token's verified signature (not yet checked against revocations); None for a key not yet verified."""
        found = self.cached(authorization)
        if found is not None or authorization in self.rejected:
            return found
        try:
            token = _bearer(authorization)
            if is_key(token):
                return None
            found = self._decode(token)
        except AuthenticationError:
            return None
        # `principal` comes next for this request (after the rate limiter's round trip, perhaps): one check, not two.
        self._remember(self._identified, token, found, IDENTIFIED_MAX)
        return found

    async def _verify(self, authorization: str, now: float) -> Principal:
        stale = self.verified.get(authorization)
        if stale is not None and stale.issued_at < self.not_before.get(stale.actor, 0.0):
            # Known to be revoked: refused without asking anyone, so also while the database is down.
            raise AuthenticationError(_revoked(stale))
        token = _bearer(authorization)
        if is_key(token):
            return await self._verify_key(token, now)
        if self.external is not None and self.external.recognises(token):
            principal = await self._verify_external(self.external, token, now)
        else:
            principal = self._decode_once(token, now)
        if principal.user_id is not None and self.revocations is not None:
            await self.revocations.know_user(principal.user_id)
            if self.revocations.revoked(principal.actor, principal.issued_at):
                raise AuthenticationError(_revoked(principal))
        return principal

    async def _verify_external(self, external: ExternalTokens, token: str, now: float) -> Principal:
        """An identity provider's token. A provider that cannot be reached for a key not known yet raises
        UnavailableError (503), which is not remembered as a refusal: the same token may work a moment later."""
        if self.sign_in is None:
            raise AuthenticationError("the identity provider's tokens are not accepted yet: the service is starting")
        try:
            claims = await external.verify(token)
            user = await self.sign_in.user_for(claims)
        except ExternalTokenRejectedError as e:
            raise AuthenticationError(e.detail) from None
        return external_principal(user.id, claims, now, self.key_cache_s)

    async def _verify_key(self, token: str, now: float) -> Principal:
        if self.api_keys is None:
            raise AuthenticationError("API keys are not accepted yet: the service is starting")
        try:
            key = await self.api_keys.verify(token)
        except CredentialRejectedError as e:
            raise AuthenticationError(e.detail) from None
        self.api_keys.touch(key.id, now)
        return key_principal(key, now, self.key_cache_s)

    def _decode_once(self, token: str, now: float) -> Principal:
        """`_decode`, or what `identify` decoded of this very token, if it has not expired since."""
        identified = self._identified.pop(token, None)
        if identified is not None and identified.expires_at > now:
            return identified
        return self._decode(token)

    def _decode(self, token: str) -> Principal:
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
        role: Any = decoded.extras.get("role", "admin")  # operator tokens minted before roles act as admins
        try:
            _check_claims(decoded.sub, scope)
            if role not in ROLES:
                raise ValueError("role must be 'read' or 'admin'")
        except ValueError as e:
            raise AuthenticationError(f"the token is invalid: {e}") from None
        return Principal(
            decoded.sub, scope, decoded.exp.timestamp(), issued_at=decoded.iat.timestamp(), read_only=role == "read"
        )

    @staticmethod
    def _remember(cache: dict[str, Any], token: str, value: Any, limit: int) -> None:
        if limit <= 0:
            return
        if len(cache) >= limit:
            del cache[next(iter(cache))]
        cache[token] = value


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token


def _revoked(principal: Principal) -> str:
    if principal.kind == "key":
        return "the API key has been revoked"
    return "the token has been revoked: the user's sessions were revoked after it was issued"


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
