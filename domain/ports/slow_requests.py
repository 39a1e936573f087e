"""The last slow requests of every process, newest first, for the console (bounded: the last 50)."""

from abc import abstractmethod
from typing import Protocol

from domain.models.slow_requests import SlowRequest

KEPT = 50


class SlowRequestLog(Protocol):
    @abstractmethod
    async def record(self, request: SlowRequest) -> None:
        """Keep `request`, dropping the oldest beyond KEPT. Never raises: a lost record is only logged."""

    @abstractmethod
    async def recent(self) -> tuple[SlowRequest, ...]:
        """The kept requests, newest first.

        Raises:
            UnavailableError: the log cannot be read now.
        """
