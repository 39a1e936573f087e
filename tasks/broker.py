"""The worker's broker: built from settings by `dramatiq tasks.broker:setup tasks.actors`."""

import contextlib
import logging
import signal
from types import FrameType
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


def drain_on_first_sigterm() -> None:
    """Let only the first SIGTERM reach Dramatiq's handler; later ones would kill a task mid-way.

    Platforms and Procfile runners signal the whole process group, and Dramatiq's main process
    forwards the signal again: a worker sees two SIGTERMs, and its handler exits on the second.
    """
    original = signal.getsignal(signal.SIGTERM)
    seen = False

    def once(signum: int, frame: FrameType | None) -> None:
        nonlocal seen
        if seen:
            logging.getLogger("folio.worker").warning("SIGTERM again: still draining")
            return
        seen = True
        if callable(original):
            original(signum, frame)

    signal.signal(signal.SIGTERM, once)


def setup() -> None:
    """Build the broker from the environment and make it Dramatiq's global broker."""
    settings = load_settings()
    configure_logging(settings.log_level)
    drain_on_first_sigterm()
    broker = build_broker(settings)
    broker.add_middleware(AsyncIO())
    broker.add_middleware(ServicesMiddleware(settings))
    dramatiq.set_broker(broker)
