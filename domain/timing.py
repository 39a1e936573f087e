"""Where a request's time went: database and cache time, summed per request for `Server-Timing`.

The gateway opens a `RequestTiming` for each request (`begin`); the postgres and Valkey adapters add
the time of their awaits to whatever timing is current (`add_db`, `add_cache`). The current timing
lives in a context variable, so tasks started inside a request (a single-flight load) add to that
request's timing, and code outside any request (background tasks, the worker) adds to nothing.
Concurrent awaits inside one request are summed, so a part may exceed the wall-clock total.
"""

from contextvars import ContextVar, Token


class RequestTiming:
    """Seconds spent in the database and in the cache by one request, so far."""

    __slots__ = ("cache_s", "db_s")

    def __init__(self) -> None:
        self.db_s = 0.0
        self.cache_s = 0.0


_current: ContextVar[RequestTiming | None] = ContextVar("folio_request_timing", default=None)


def begin() -> tuple[RequestTiming, Token[RequestTiming | None]]:
    """Start timing the current request; pass the token to `end`."""
    timing = RequestTiming()
    return timing, _current.set(timing)


def end(token: Token[RequestTiming | None]) -> None:
    _current.reset(token)


def add_db(seconds: float) -> None:
    timing = _current.get()
    if timing is not None:
        timing.db_s += seconds


def add_cache(seconds: float) -> None:
    timing = _current.get()
    if timing is not None:
        timing.cache_s += seconds
