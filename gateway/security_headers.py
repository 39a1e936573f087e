"""Security headers on every response, as precomputed tuples appended by the outermost layer.

JSON responses get a CSP that allows nothing (a browser that renders one runs nothing); the docs
page gets the strict policy its self-hosted Swagger UI needs; HSTS only over TLS, which behind a
TLS-terminating proxy is known from `X-Forwarded-Proto` when TRUST_PROXY_HEADERS is on; and API
responses that set no caching policy of their own (user data) are `no-store`.
"""

from typing import Any

from gateway.docs import DOCS, DOCS_CSP

Header = tuple[bytes, bytes]

_COMMON: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_API_CSP: Header = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_CSP: Header = (b"content-security-policy", DOCS_CSP.encode())
# The console: its own files only; no inline script or style, no frames, no plug-ins, forms post home.
CONSOLE = "/console"
_CONSOLE_CSP: Header = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    b" object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)
_NO_STORE: Header = (b"cache-control", b"no-store")


class SecurityHeaders:
    """`extend(scope, headers)` appends this response's security headers to its start message's list."""

    def __init__(self, *, trust_proxy_headers: bool, hsts_max_age_s: int) -> None:
        self._trust_proxy = trust_proxy_headers
        self._hsts: Header | None = (
            (b"strict-transport-security", f"max-age={hsts_max_age_s}; includeSubDomains".encode())
            if hsts_max_age_s
            else None
        )

    def extend(self, scope: dict[str, Any], headers: list[Header]) -> None:
        path: str = scope["path"]
        if path.startswith("/api/"):
            if not any(name == b"cache-control" for name, _ in headers):
                headers.append(_NO_STORE)
            headers.append(_API_CSP)
        else:
            if path.startswith(CONSOLE) and not any(name == b"cache-control" for name, _ in headers):
                headers.append(_NO_STORE)  # the session and the events (the page and its files say their own)
            headers.append(
                _DOCS_CSP if path.startswith(DOCS) else _CONSOLE_CSP if path.startswith(CONSOLE) else _API_CSP
            )
        headers.extend(_COMMON)
        if self._hsts is not None and self._over_tls(scope):
            headers.append(self._hsts)

    def _over_tls(self, scope: dict[str, Any]) -> bool:
        if scope.get("scheme") == "https":
            return True
        if self._trust_proxy:
            for name, value in scope["headers"]:
                if name == b"x-forwarded-proto":
                    return bool(value.split(b",")[-1].strip().lower() == b"https")
        return False
