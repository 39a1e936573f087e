"""The ASGI stack in front of Litestar, built in one place. From the outermost layer inwards:

1. `RequestContextMiddleware`: the request id, `X-Process-Time`, `Server-Timing`, the security
   headers, metrics, the access log line, and the last-resort 500 problem. Outermost, so 404s,
   429s and errors raised before routing carry them too.
2. `TrustedHostsMiddleware` (only when ALLOWED_HOSTS names hosts): a foreign Host is a 400 problem.
3. `RateLimitMiddleware` (unless RATE_LIMIT is off): a caller past its limit gets a 429 problem.
4. `CrossOriginToLitestar` (only when CORS_ALLOW_ORIGINS is set): requests with an `Origin` header
   skip the lanes for Litestar's CORS handling.
5. The lanes, each answering one kind of request before Litestar's routing, and passing anything else
   (or anything it cannot answer) on to the next, and at last to Litestar:
   `PortfolioFastLane`: `GET /api/user/{id}/portfolio` (a 200 or a 503);
   `PortfolioStreamLane`: `GET /api/user/{id}/portfolio/stream` (a long-lived stream holds no Litestar
   objects; a stream, a 429 or a 503); `DocumentLane`: the market data and instruments documents (200 or
   304); `ReportRequestLane`: `POST /api/generate-report?user_id=N` without a body (202).
6. `CompressionMiddleware`: every response not already encoded, per Accept-Encoding.
7. Litestar: its middleware (bearer authentication, CORS), routing, the guards, the handlers, and
   the problem details of every error.

So every lane meets the same guards (2-4), and every response the same context (1).
"""

from litestar import Litestar
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.types import ASGIApp

from config.settings import Settings
from gateway.access_log import AccessLog
from gateway.auth import Authenticator
from gateway.compression import CompressionMiddleware
from gateway.dependencies import ServicesHandle
from gateway.document_lane import DocumentLane, DocumentRoute
from gateway.edge import CrossOriginToLitestar, TrustedHostsMiddleware, csv_setting
from gateway.hot_path import PortfolioFastLane
from gateway.metrics import RequestTelemetry
from gateway.middleware import RequestContextMiddleware
from gateway.rate_limit import RateLimitMiddleware
from gateway.report_lane import ReportRequestLane
from gateway.routes.market_data import MARKET_DATA_CACHE_CONTROL
from gateway.routes.static_data import instruments_cache_control
from gateway.security_headers import SecurityHeaders
from gateway.stream_lane import PortfolioStreamLane


def build_stack(
    litestar: Litestar, handle: ServicesHandle, settings: Settings, authenticator: Authenticator
) -> RequestContextMiddleware:
    """Wrap Litestar's own ASGI handler in the layers above, innermost first."""
    litestar_lane: ASGIApp = CompressionMiddleware(litestar.asgi_handler, minimum_size=settings.gzip_minimum_size)
    documents = {
        "/api/market-data": DocumentRoute(litestar.state.market_data_document, MARKET_DATA_CACHE_CONTROL),
        "/api/static-data/instruments": DocumentRoute(
            litestar.state.instruments_document, instruments_cache_control(settings)
        ),
    }
    app: ASGIApp = ReportRequestLane(litestar_lane, handle, authenticator=authenticator)
    app = DocumentLane(app, handle, authenticator=authenticator, routes=documents)
    app = PortfolioStreamLane(app, handle, authenticator=authenticator)
    # Outermost of the lanes: most requests are portfolio reads, and they meet no other lane's check.
    app = PortfolioFastLane(
        app,
        handle,
        authenticator=authenticator,
        min_size=settings.gzip_minimum_size,
        max_entries=settings.portfolio_bodies_max,
    )
    if litestar.cors_config is not None:
        app = CrossOriginToLitestar(app, litestar_lane)
    if settings.rate_limit:
        app = RateLimitMiddleware(app, handle, settings, authenticator)
    hosts = csv_setting(settings.allowed_hosts)
    if hosts and "*" not in hosts:
        app = TrustedHostsMiddleware(app=app, config=AllowedHostsConfig(allowed_hosts=hosts))
    return RequestContextMiddleware(
        app,
        access_log=AccessLog() if settings.access_log else None,
        security_headers=SecurityHeaders(
            trust_proxy_headers=settings.trust_proxy_headers, hsts_max_age_s=settings.hsts_max_age_s
        ),
        telemetry=RequestTelemetry(handle, settings),
    )
