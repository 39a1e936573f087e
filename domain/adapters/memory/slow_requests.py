"""The in-memory twin of the slow-request log: a bounded deque, newest first."""

from collections import deque

from domain.models.slow_requests import SlowRequest
from domain.ports.slow_requests import KEPT, SlowRequestLog


class InMemorySlowRequestLog(SlowRequestLog):
    def __init__(self) -> None:
        self._kept: deque[SlowRequest] = deque(maxlen=KEPT)

    async def record(self, request: SlowRequest) -> None:
        self._kept.appendleft(request)

    async def recent(self) -> tuple[SlowRequest, ...]:
        return tuple(self._kept)
