"""Host metrics from psutil, sampled on a background thread so no request ever waits for them."""

import threading

import psutil

from domain.ports.health import HostMetrics


class PsutilHostMetrics(HostMetrics):
    """Samples CPU and memory every `interval_s` seconds; readers get the latest sample."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._cpu = 0.0
        self._memory = float(psutil.virtual_memory().percent)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        psutil.cpu_percent(interval=None)  # primes the counter; the first reading is meaningless
        self._thread = threading.Thread(target=self._run, name="host-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval_s + 1)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._cpu = float(psutil.cpu_percent(interval=None))
            self._memory = psutil.virtual_memory().percent

    def cpu_percent(self) -> float:
        return self._cpu

    def memory_percent(self) -> float:
        return self._memory
