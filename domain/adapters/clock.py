"""The system's wall clock."""

import time
from datetime import UTC, datetime

from domain.ports.clock import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()
