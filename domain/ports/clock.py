"""Time: what the use cases read instead of the system clock, so tests can hold it still."""

from abc import abstractmethod
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Wall time, which every process agrees on (durations use the monotonic clock instead)."""

    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""

    @abstractmethod
    def time(self) -> float:
        """The current time in seconds since the epoch."""
