"""SIGTERM reaches the live streams: they end with a `retry:` so Granian's drain is not held up by them.

Granian handles SIGTERM in each worker through the event loop's signal handling, which is woken by
the interpreter's wakeup fd whatever the Python-level handler is. So a Python-level handler can be
chained in front of it without replacing it: ours asks the streams to end, then defers to the one it
found (which is the event loop's no-op, or the default action outside Granian).
"""

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


@contextmanager
def on_sigterm(callback: Callable[[], object]) -> Iterator[None]:
    """Call `callback` (on the main thread, between bytecodes: it must only set state) on SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals can only be handled on the main thread (an app driven by a test client)
        return
    previous: Any = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: FrameType | None) -> None:
        callback()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:  # no one else handles it: the default action, as before
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, previous)
