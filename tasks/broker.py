"""The worker's broker: built from settings by `dramatiq tasks.broker:setup tasks.actors`."""

import contextlib
import logging
import signal
from types import FrameType
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import AsyncIO, Middleware, Retries, TimeLimit

from config.logs import configure_logging
from config.settings import Settings, load_settings
from config.wiring.reports import build_broker
from config.wiring.worker import WorkerServices, open_worker


class ServicesMiddleware(Middleware):
    """Opens the worker's services on the AsyncIO loop before the worker threads start, closes them after."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: WorkerServices | None = None
        self._context: contextlib.AbstractAsyncContextManager[WorkerServices] | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        loop = get_event_loop_thread()
        assert loop is not None, "add ServicesMiddleware after AsyncIO"
        self._context = open_worker(self.settings)
        self.services = loop.run_coroutine(self._context.__aenter__())

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        loop = get_event_loop_thread()
        if self._context is not None and loop is not None:
            loop.run_coroutine(self._context.__aexit__(None, None, None))
            self._context = None


class ActorMetrics(Middleware):
    """Counts each finished message by actor and outcome: the console's throughput per actor."""

    def __init__(self, services: ServicesMiddleware) -> None:
        self.services = services

    def _count(self, message: Any, outcome: str) -> None:
        if self.services.services is not None:
            self.services.services.metrics.worker_message(message.actor_name, outcome)

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        self._count(message, "done" if exception is None else "failed")

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._count(message, "skipped")


def services() -> WorkerServices:
    """The services the worker opened at boot (for the actors)."""
    for middleware in dramatiq.get_broker().middleware:
        if isinstance(middleware, ServicesMiddleware) and middleware.services is not None:
            return middleware.services
    raise RuntimeError("the worker's services are not open (run with `dramatiq tasks.broker:setup ...`)")


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


def tune_for_reports(broker: dramatiq.Broker, settings: Settings) -> None:
    """Retries and time limits that fit a report, from settings (Dramatiq's defaults: 20 retries over
    days, 10 minutes per message). The row counts attempts too, so a poison report ends `failed`."""
    for middleware in broker.middleware:
        if isinstance(middleware, Retries):
            middleware.max_retries = max(settings.report_max_attempts - 1, 0)
            middleware.min_backoff = settings.report_min_backoff_ms
            middleware.max_backoff = settings.report_max_backoff_ms
        elif isinstance(middleware, TimeLimit):
            middleware.time_limit = int(settings.report_time_limit_s * 1000)


def setup() -> None:
    """Build the broker from the environment and make it Dramatiq's global broker."""
    settings = load_settings()
    configure_logging(settings.log_level)
    drain_on_first_sigterm()
    broker = build_broker(settings)
    tune_for_reports(broker, settings)
    broker.add_middleware(AsyncIO())
    broker.add_middleware(opened := ServicesMiddleware(settings))
    broker.add_middleware(ActorMetrics(opened))
    dramatiq.set_broker(broker)
