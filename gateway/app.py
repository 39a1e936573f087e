"""The Litestar app factory: Granian's `--factory` target and the tests' entry point."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from openapi_ui_bundles import swagger_ui

from config.api_key_secret import load_api_key_secret
from config.logs import configure_logging
from config.settings import Settings, load_settings
from config.wiring.web import WebServices, open_web
from gateway.auth import Authenticator
from gateway.console.feed import ConsoleFeed
from gateway.console.oidc import ConsoleOidcController
from gateway.console.oidc_flow import FlowSigner
from gateway.console.queue_routes import ConsoleQueueController
from gateway.console.routes import ConsoleController
from gateway.console.sessions import SessionSigner
from gateway.dependencies import ServicesHandle
from gateway.docs import OfflineSwaggerPlugin, swagger_init
from gateway.drain import on_sigterm
from gateway.edge import cors_config
from gateway.health import HealthController
from gateway.metrics import MetricsController
from gateway.openapi_contract import finish_document
from gateway.openapi_schemas import DecimalAsNumber
from gateway.portfolio_schemas import PortfolioViewWire
from gateway.problems import EXCEPTION_HANDLERS
from gateway.responses import FolioResponse
from gateway.routes.api_keys import ApiKeyController
from gateway.routes.audit import AuditController
from gateway.routes.corporate_actions import CorporateActionController
from gateway.routes.csv_export import CsvExportController
from gateway.routes.export import ExportController
from gateway.routes.ledger import CashController, LedgerController
from gateway.routes.market_data import MarketDataController, market_data_document
from gateway.routes.ops import OpsController
from gateway.routes.performance import PerformanceController
from gateway.routes.portfolio_stream import PortfolioStreamController
from gateway.routes.portfolios import PortfolioController
from gateway.routes.reports import ReportController
from gateway.routes.sessions import SessionController
from gateway.routes.static_data import StaticDataController, instruments_document
from gateway.routes.trade_imports import TradeImportController
from gateway.routes.trades import TradeController
from gateway.routes.users import UserController
from gateway.routes.webhooks import DeadDeliveryController, WebhookController
from gateway.security import authorize, bearer_auth
from gateway.stack import build_stack

DOCS_ASSETS = "/docs/assets"
GC_GEN0_THRESHOLD = 50_000


def _openapi() -> OpenAPIConfig:
    # The UI's scripts are served by the app itself, so the docs work offline (and under a strict CSP).
    swagger = OfflineSwaggerPlugin()
    return OpenAPIConfig(
        title="Folio",
        version="1.0.0",
        description="Portfolio API: holdings at live prices, market data, trades and emailed reports.",
        path="/docs",
        render_plugins=[swagger],
        # Security is declared per operation (gateway/openapi_contract.py): health and docs stay open.
    )


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections: the caches hold many long-lived objects that a full collection
    would walk every time (tens of milliseconds at the p99). Start-up objects are frozen out of it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 50, 1000)


def _drain(services: WebServices, console_feed: ConsoleFeed) -> None:
    services.streams.drain()
    console_feed.drain()


def create_app(settings: Settings | None = None, services: WebServices | None = None) -> Litestar:
    """Build the app; `services` lets tests hand in ready objects instead of opening real ones."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    handle = ServicesHandle()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            opened = (
                services
                if services is not None
                else await stack.enter_async_context(open_web(settings, PortfolioViewWire()))
            )
            authenticator.attach(opened)
            app.state.services = handle.services = opened
            sampler = asyncio.create_task(console_feed.run(), name="console-feed")
            stack.callback(sampler.cancel)
            if services is None:
                tune_garbage_collector()
                # On SIGTERM the streams end first (with a `retry:`), so Granian's drain is not held up by them.
                loop = asyncio.get_running_loop()
                stack.enter_context(on_sigterm(lambda: loop.call_soon_threadsafe(_drain, opened, console_feed)))
            try:
                yield
            finally:
                handle.services = None

    # Loads the JWT keys and the API key secret now: a production process without them refuses to start.
    authenticator = Authenticator(settings)
    secret = load_api_key_secret(settings)
    console_feed = ConsoleFeed(handle)
    app = Litestar(
        route_handlers=[
            HealthController,
            PortfolioController,
            PortfolioStreamController,
            TradeController,
            TradeImportController,
            CsvExportController,
            CashController,
            LedgerController,
            PerformanceController,
            ReportController,
            OpsController,
            CorporateActionController,
            UserController,
            ExportController,
            AuditController,
            MarketDataController,
            StaticDataController,
            MetricsController,
            ApiKeyController,
            SessionController,
            WebhookController,
            DeadDeliveryController,
            ConsoleController,
            ConsoleOidcController,
            ConsoleQueueController,
            create_static_files_router(DOCS_ASSETS, [swagger_ui.static_path], include_in_schema=False),
            swagger_init,
        ],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[bearer_auth(authenticator)],
        guards=[authorize],
        response_class=FolioResponse,
        openapi_config=_openapi(),
        state=None,
        logging_config=None,  # config.logs owns logging: JSON lines, written off the event loop
        debug=False,
        request_max_body_size=settings.max_request_body_bytes,  # larger bodies: 413
        cors_config=cors_config(settings),  # closed (no CORS headers) unless CORS_ALLOW_ORIGINS is set
        plugins=[DecimalAsNumber()],
    )
    finish_document(app, quote_batch_max=settings.quote_batch_max)
    app.state.retry_after_s = settings.retry_after_s
    app.state.authenticator = authenticator
    app.state.console_feed = console_feed
    secure_cookies = settings.environment != "development"
    app.state.console_signer = SessionSigner(secret, ttl_s=settings.console_session_ttl_s, secure=secure_cookies)
    app.state.console_flows = FlowSigner(secret, secure=secure_cookies)
    app.state.market_data_document = market_data_document()
    app.state.instruments_document = instruments_document()
    app.asgi_handler = build_stack(app, handle, settings, authenticator)  # type: ignore[assignment]
    return app
