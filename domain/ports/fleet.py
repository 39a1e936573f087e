"""The fleet: every process's heartbeat, each process type's scaler state, and the report queue's backlog."""

from abc import abstractmethod
from typing import Protocol

from domain.models.fleet import Backlog, ProcessSample
from domain.scaling import ScalerRecord


class FleetRegistry(Protocol):
    """Where every process's heartbeat lives for a while, and each process type's scaler state.

    Every method raises UnavailableError when the store cannot answer.
    """

    @abstractmethod
    async def publish(self, sample: ProcessSample, ttl_s: float) -> None:
        """Record this process's latest sample; it drops out of `live` if not published again within `ttl_s`."""

    @abstractmethod
    async def live(self, process: str) -> list[ProcessSample]:
        """The latest sample of every live process of that type, in no particular order."""

    @abstractmethod
    async def lead(self, process: str, holder: str, hold_s: float) -> bool:
        """Claim the next scaling computation for that type; False while another holder's claim lasts."""

    @abstractmethod
    async def load(self, process: str) -> ScalerRecord | None:
        """The type's scaler state and latest decision, as the last leader stored them."""

    @abstractmethod
    async def save(self, process: str, record: ScalerRecord) -> None:
        """Store the type's scaler state and latest decision for every process to read."""


class QueueBacklog(Protocol):
    """The report queue's depth and age, as the workers' scaler needs them."""

    @abstractmethod
    async def measure(self) -> Backlog:
        """Messages waiting for a worker, and how long the oldest has waited (0 when none waits).

        Raises:
            UnavailableError: the broker cannot answer now.
        """
