"""A small circuit breaker for the cache: after repeated failures, skip the cache for a while.

Hand-written rather than a library: it sits on the hot path, so it must cost one comparison per
call, and the cache needs only the classic closed / open / half-open cycle.
"""

import logging
import time

from domain.ports.metrics import Metrics

log = logging.getLogger("folio.breaker")


class CircuitBreaker:
    """Opens after `failures` consecutive failures; after `reset_s`, lets one trial call through."""

    def __init__(self, name: str, *, failures: int, reset_s: float, metrics: Metrics) -> None:
        self.name = name
        self._metrics = metrics  # state changes and failed calls, for the operators' dashboards
        self._threshold = failures
        self._reset_s = reset_s
        self._failures = 0
        self._open_until = 0.0
        self._trial = False
        self._report("closed")

    def _report(self, state: str) -> None:
        self._metrics.breaker(self.name, state)

    @property
    def state(self) -> str:
        if self._failures < self._threshold:
            return "closed"
        return "half-open" if time.monotonic() >= self._open_until else "open"

    def allow(self) -> bool:
        """May a call go to the dependency now?"""
        if self._failures < self._threshold:
            return True
        if time.monotonic() < self._open_until or self._trial:
            return False
        self._trial = True  # one probe at a time while half-open
        self._report("half-open")
        return True

    def succeeded(self) -> bool:
        """Record a success; True when this success closed an open breaker."""
        recovered = self._failures >= self._threshold
        self._failures = 0
        self._trial = False
        if recovered:
            log.warning("%s is back: circuit closed", self.name)
            self._report("closed")
        return recovered

    def failed(self, error: BaseException, operation: str | None = None) -> None:
        """Record a failed call (`operation` names it in the error count; the breaker's name otherwise)."""
        self._failures += 1
        self._trial = False
        self._metrics.valkey_error(operation or self.name)
        if self._failures >= self._threshold:
            if self._failures == self._threshold:
                log.warning("%s failing (%s): circuit open for %.1fs", self.name, type(error).__name__, self._reset_s)
            self._open_until = time.monotonic() + self._reset_s
            self._report("open")
