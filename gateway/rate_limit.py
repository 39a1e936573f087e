"""Rate limiting for every route but health and docs, as an ASGI layer outside the portfolio fast lane.

The key is the caller: the token's subject (a user's or an operator's limit), and, for a request
without a valid token, the client address (the anonymous limit), so forged tokens share one
budget. An API key counts as its user; a key not yet verified in this process counts as its
address until it is, so keys made up by the million cost the database no more than the anonymous
limit allows. The authenticator remembers verified credentials, so keying costs a dict lookup; the
limiter decides in process (domain/services/rate_limits.py). A refusal is a 429 problem with
Retry-After.
"""

from typing import Any

from litestar.types import ASGIApp, Receive, Send

from config.settings import Settings
from domain.services.rate_limits import RateLimiter
from gateway.auth import Authenticator, authorization_header
from gateway.dependencies import ServicesHandle
from gateway.problems import send_problem

EXEMPT = ("/health", "/docs")


class RateLimitMiddleware:
    """429 once a caller has used its limit in the current minute; everything else passes through."""

    def __init__(self, app: ASGIApp, handle: ServicesHandle, settings: Settings, authenticator: Authenticator) -> None:
        self.app = app
        self.handle = handle
        self.authenticator = authenticator
        self.trust_proxy = settings.trust_proxy_headers
        self.limits = {
            "user": settings.rate_limit_per_minute,
            "operator": settings.rate_limit_operator_per_minute,
            "anonymous": settings.rate_limit_anon_per_minute,
        }
        self._limiter: RateLimiter | None = None

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(EXEMPT):
            limiter = self._limiter or self._find_limiter()
            if limiter is not None:
                key, limit = self._caller(scope)
                retry_after = limiter.decide(key, limit)
                if retry_after is None:  # this caller's batch is full: one round trip to the store
                    retry_after = await limiter.admit(key, limit)
                if retry_after:
                    await _refuse(scope, send, limit, retry_after)
                    return
        await self.app(scope, receive, send)

    def _find_limiter(self) -> RateLimiter | None:
        services = self.handle.services
        self._limiter = services.rate_limits if services is not None else None
        return self._limiter

    def _caller(self, scope: Any) -> tuple[str, int]:
        authorization = authorization_header(scope["headers"])
        principal = self.authenticator.identify(authorization) if authorization else None
        if principal is not None:
            return f"{principal.scope}:{principal.subject}", self.limits[principal.scope]
        return f"address:{self._address(scope)}", self.limits["anonymous"]

    def _address(self, scope: Any) -> str:
        if self.trust_proxy:
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    # The rightmost entry is the one the platform's proxy added; the rest is the client's word.
                    return str(value.decode("latin-1").rsplit(",", 1)[-1].strip())
        client = scope.get("client")
        return str(client[0]) if client else "unknown"


async def _refuse(scope: Any, send: Send, limit: int, retry_after: int) -> None:
    detail = f"the limit of {limit} requests a minute is used up; retry in {retry_after} s"
    await send_problem(scope, send, 429, detail, [(b"retry-after", str(retry_after).encode())])
