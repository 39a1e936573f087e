"""Structured logging: one JSON object per line, written off the event loop by a listener thread."""

import atexit
import logging
import logging.handlers
import queue
import sys
import time
from typing import Any

import msgspec

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    """Renders a record and its `extra` fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update((k, v) for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_"))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(line).decode()


_listener: logging.handlers.QueueListener | None = None


def configure_logging(level: str = "INFO") -> None:
    """Route every log record through a queue to a stderr writer thread (idempotent)."""
    global _listener
    if _listener is not None:
        return
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(JsonFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level)
    _listener = logging.handlers.QueueListener(records, stream, respect_handler_level=False)
    _listener.start()
    atexit.register(_listener.stop)
