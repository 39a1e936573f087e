"""The access log: one JSON line per request, for microseconds on the request path.

The request path only encodes a small struct and appends it to a list; a writer thread swaps
the list out and writes it to stderr every `interval_s`, so a slow reader of the log (a full
pipe) never stalls the event loop. Lines are JSON like those of `config.logs`.
"""

import atexit
import contextlib
import os
import sys
import threading
import time

import msgspec


class AccessLine(msgspec.Struct, array_like=False):
    ts: str
    level: str
    logger: str
    msg: str
    method: str
    path: str
    status: int
    duration_ms: float
    request_id: str


_encoder = msgspec.json.Encoder()


class _Clock:
    """ISO timestamps with milliseconds; the seconds part is formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        t = time.time()
        second = int(t)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((t - second) * 1000):03d}Z"


class AccessLog:
    """Buffered JSON lines to a file descriptor, flushed by a daemon thread."""

    def __init__(self, fd: int | None = None, *, interval_s: float = 0.1) -> None:
        self._fd = sys.stderr.fileno() if fd is None else fd
        self._interval_s = interval_s
        self._lines: list[bytes] = []
        self._clock = _Clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def request(self, method: str, path: str, status: int, duration_ms: float, request_id: str) -> None:
        line = AccessLine(
            ts=self._clock.now(),
            level="INFO",
            logger="folio.access",
            msg="request",
            method=method,
            path=path,
            status=status,
            duration_ms=duration_ms,
            request_id=request_id,
        )
        self._lines.append(_encoder.encode(line))

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.flush()

    def flush(self) -> None:
        lines, self._lines = self._lines, []  # a swap: appends made meanwhile land in the new list
        if not lines:
            return
        lines.append(b"")
        data = memoryview(b"\n".join(lines))
        with contextlib.suppress(OSError):  # a closed log must not take the server down
            while data:
                data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        self._stop.set()
        self.flush()
