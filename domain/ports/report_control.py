"""What operators do to the report queue beyond one requeue: find dead letters by filter, requeue many at
once, cancel, and pause or resume processing. The report rows stay the record: a paused worker leaves a
report `queued`, so nothing is lost while paused."""

from abc import abstractmethod
from typing import Protocol

from domain.models.audit import AuditEntry
from domain.models.reports import DeadLetterFilter, ProcessingPause, Report


class ReportControl(Protocol):
    @abstractmethod
    async def dead_letters(self, matching: DeadLetterFilter, *, limit: int) -> tuple[Report, ...]:
        """Failed reports that match, the most recently failed first, at most `limit`."""

    @abstractmethod
    async def requeue_matching(
        self, matching: DeadLetterFilter, deadline_s: float, *, limit: int, audit: AuditEntry
    ) -> tuple[Report, ...]:
        """Put back to `queued` (fresh attempts, new deadline, email status kept) at most `limit` failed reports
        that match, the longest failed first, with one `audit` entry per report, all in one transaction."""

    @abstractmethod
    async def cancel(self, report_id: str, *, audit: AuditEntry) -> Report:
        """A queued report or a dead letter becomes `cancelled` (finished now; its failure reason kept) with
        `audit` in the same transaction; a worker that gets its message then finds nothing to claim.

        Raises:
            ReportNotFoundError: no such report.
            ReportNotCancellableError: the report is running, succeeded or already cancelled.
        """

    @abstractmethod
    async def pause(self) -> ProcessingPause | None:
        """The pause in force, or None while reports are processed."""

    @abstractmethod
    async def set_pause(self, paused: bool, *, audit: AuditEntry) -> ProcessingPause | None:
        """Pause (by `audit.actor`) or resume report processing, audited in the same transaction; pausing
        twice keeps the first pause. Returns the pause now in force (None once resumed)."""
