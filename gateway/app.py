"""The Litestar app factory: Granian's `--factory` target and the tests' entry point."""

import contextlib
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from openapi_ui_bundles import swagger_ui

from config.logs import configure_logging
from config.settings import Settings, load_settings
from config.wiring import Services, open_services
from gateway.compression import CompressionMiddleware
from gateway.health import HealthController
from gateway.hot_path import PortfolioFastLane
from gateway.middleware import RequestContextMiddleware
from gateway.problems import EXCEPTION_HANDLERS
from gateway.responses import FolioResponse
from gateway.routes.market_data import MarketDataController, market_data_document
from gateway.routes.portfolios import PortfolioController
from gateway.routes.static_data import StaticDataController, instruments_document
from gateway.routes.trades import TradeController

DOCS_ASSETS = "/docs/assets"


def _openapi() -> OpenAPIConfig:
    # The UI's scripts are served by the app itself, so the docs work offline.
    swagger = SwaggerRenderPlugin(
        path="/",
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="Folio",
        version="1.0.0",
        description="Portfolio API: holdings at live prices, market data, trades and emailed reports.",
        path="/docs",
        render_plugins=[swagger],
    )


def create_app(settings: Settings | None = None, services: Services | None = None) -> Litestar:
    """Build the app; `services` lets tests hand in ready objects instead of opening real ones."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        async with open_services(settings) as opened:
            app.state.services = opened
            yield

    app = Litestar(
        route_handlers=[
            HealthController,
            PortfolioController,
            TradeController,
            MarketDataController,
            StaticDataController,
            create_static_files_router(DOCS_ASSETS, [swagger_ui.static_path], include_in_schema=False),
        ],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        response_class=FolioResponse,
        openapi_config=_openapi(),
        state=None,
        debug=False,
    )
    app.state.retry_after_s = settings.retry_after_s
    app.state.market_data_document = market_data_document()
    app.state.instruments_document = instruments_document()
    # Outermost, so 404s and errors raised before routing get a request id and a timing too.
    compressed = CompressionMiddleware(app.asgi_handler, minimum_size=settings.gzip_minimum_size)
    fast_lane = PortfolioFastLane(
        compressed, app, min_size=settings.gzip_minimum_size, max_entries=settings.local_cache_max_entries
    )
    app.asgi_handler = RequestContextMiddleware(fast_lane, log_requests=settings.access_log)  # type: ignore[assignment]
    return app
