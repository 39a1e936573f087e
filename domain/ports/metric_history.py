"""The console's hour of history from somewhere other than the web process's own ring (Prometheus)."""

from abc import abstractmethod
from typing import Protocol

Point = dict[str, float | None]  # "t" (epoch seconds) and each charted series' value at that moment


class MetricHistory(Protocol):
    @abstractmethod
    async def hour(self, end: float, step_s: float) -> list[Point]:
        """Points every `step_s` over the hour before `end`, oldest first; a series without a value at a
        moment is None there.

        Raises:
            UnavailableError: the source does not answer, or answers with an error.
        """
