"""Health: the host's load and the dependencies readiness depends on."""

from abc import abstractmethod
from typing import Protocol


class HostMetrics(Protocol):
    """The host's load, read without blocking."""

    @abstractmethod
    def cpu_percent(self) -> float:
        """The latest CPU utilisation sample, 0-100."""

    @abstractmethod
    def memory_percent(self) -> float:
        """The latest memory utilisation sample, 0-100."""


class DependencyProbe(Protocol):
    """One dependency that readiness depends on."""

    name: str

    @abstractmethod
    async def check(self) -> None:
        """Return when the dependency answers; raise any exception when it does not."""
