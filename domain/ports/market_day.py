"""The market day: where each job's runs are recorded with its work, and the queue that hands a job to a worker."""

from abc import abstractmethod
from datetime import date, datetime
from typing import Protocol

from domain.models.audit import AuditEntry
from domain.models.market_day import ClosedDay


class MarketDayStore(Protocol):
    """Runs the market day's jobs, each at most once per (job, day): the run's record is written in the
    job's own transaction, with its audit entry."""

    @abstractmethod
    async def last_run(self, job: str) -> date | None:
        """The newest day `job` ran for (None: it never ran)."""

    @abstractmethod
    async def close_day(self, day: date, *, audit: AuditEntry) -> ClosedDay | None:
        """Record `day`'s close of every quoted instrument from its last quote and start the next day: the
        previous close becomes that price, the day's range collapses to it, the volume returns to 0; publish
        the change as a new quote version. `audit` is completed with `closes` and `version`.

        Returns:
            The closes recorded and the version published, or None when `day`'s close had already run
            (nothing changes).

        Raises:
            UnavailableError: the store cannot answer now (nothing is written).
        """

    @abstractmethod
    async def purge_reports(self, day: date, *, before: datetime, audit: AuditEntry) -> int | None:
        """Delete the finished (succeeded or failed) reports created before `before`, with their documents,
        as `day`'s retention run. `audit` is completed with `deleted`.

        Returns:
            The number of reports deleted, or None when `day`'s retention had already run.

        Raises:
            UnavailableError: the store cannot answer now (nothing is written).
        """


class DailyJobQueue(Protocol):
    """Hands one job for one day to a worker (at least once: the store makes a repeat harmless)."""

    @abstractmethod
    async def send(self, job: str, day: date) -> None:
        """Enqueue `job` for `day`.

        Raises:
            KeyError: `job` is not a registered job.
            UnavailableError: the queue is not answering.
        """
