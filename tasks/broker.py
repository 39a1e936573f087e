"""The worker's broker: built from settings by `dramatiq tasks.broker:setup tasks.actors`."""

import contextlib
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import AsyncIO, Middleware

from config.logs import configure_logging
from config.settings import Settings, load_settings
from config.wiring import Services, build_broker, open_services


class ServicesMiddleware(Middleware):
    """Opens the wired services on the AsyncIO loop before the worker threads start, closes them after."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: Services | None = None
        self._context: contextlib.AbstractAsyncContextManager[Services] | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        loop = get_event_loop_thread()
        assert loop is not None, "add ServicesMiddleware after AsyncIO"
        self._context = open_services(self.settings, role="worker")
        self.services = loop.run_coroutine(self._context.__aenter__())

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        loop = get_event_loop_thread()
        if self._context is not None and loop is not None:
            loop.run_coroutine(self._context.__aexit__(None, None, None))
            self._context = None


def setup() -> None:
    """Build the broker from the environment and make it Dramatiq's global broker."""
    settings = load_settings()
    configure_logging(settings.log_level)
    broker = build_broker(settings)
    broker.add_middleware(AsyncIO())
    broker.add_middleware(ServicesMiddleware(settings))
    dramatiq.set_broker(broker)
