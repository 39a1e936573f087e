"""The hexagon's ports: what the use cases need from the outside world, as Protocols."""

from abc import abstractmethod
from typing import Protocol

from domain.models import Holdings, QuoteSnapshot


class HoldingsRepository(Protocol):
    """The record of what each user owns."""

    @abstractmethod
    async def get(self, user_id: int) -> Holdings | None:
        """Return the user's holdings (possibly none); None when the user does not exist.

        Raises:
            UnavailableError: the store cannot answer now.
        """


class QuoteRepository(Protocol):
    """Where published quote snapshots are kept."""

    @abstractmethod
    async def latest_version(self) -> int:
        """The newest published snapshot version (0 when nothing is published)."""

    @abstractmethod
    async def load_snapshot(self, base_currency: str) -> QuoteSnapshot:
        """Every instrument with its latest quote, at the newest version."""


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
