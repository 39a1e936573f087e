"""The in-memory twin of report control, over the in-memory report repository's rows."""

from datetime import timedelta

import msgspec

from domain.adapters.memory.reports import InMemoryReportRepository
from domain.errors import ReportNotCancellableError, ReportNotFoundError
from domain.models.audit import AuditEntry, report_target
from domain.models.reports import DeadLetterFilter, ProcessingPause, Report
from domain.ports.report_control import ReportControl


class InMemoryReportControl(ReportControl):
    def __init__(self, reports: InMemoryReportRepository) -> None:
        self._reports = reports
        self._pause: ProcessingPause | None = None

    def _matches(self, r: Report, matching: DeadLetterFilter) -> bool:
        if r.status != "failed":
            return False
        if matching.reason and matching.reason.lower() not in (r.error or "").lower():
            return False
        if matching.older_than_s is None:
            return True
        cutoff = self._reports.clock.now() - timedelta(seconds=matching.older_than_s)
        return r.finished_at is not None and r.finished_at <= cutoff

    def _matching(self, matching: DeadLetterFilter) -> list[Report]:
        # Most recently failed first; the dict's order breaks ties as the id does in PostgreSQL (arbitrary).
        found = [r for r in self._reports.rows.values() if self._matches(r, matching)]
        return sorted(found, key=lambda r: r.finished_at or r.created_at, reverse=True)

    async def dead_letters(self, matching: DeadLetterFilter, *, limit: int) -> tuple[Report, ...]:
        return tuple(self._matching(matching)[:limit])

    async def requeue_matching(
        self, matching: DeadLetterFilter, deadline_s: float, *, limit: int, audit: AuditEntry
    ) -> tuple[Report, ...]:
        oldest_first = list(reversed(self._matching(matching)))[:limit]
        return tuple([await self._reports.requeue_failed(r.id, deadline_s, audit=audit) for r in oldest_first])

    async def cancel(self, report_id: str, *, audit: AuditEntry) -> Report:
        r = self._reports.rows.get(report_id)
        if r is None:
            raise ReportNotFoundError(report_id)
        if r.status not in ("queued", "failed"):
            raise ReportNotCancellableError(report_id, r.status)
        r = msgspec.structs.replace(r, status="cancelled", finished_at=self._reports.clock.now())
        self._reports.rows[report_id] = r
        self._reports.audit.record(audit.completed(target=report_target(r.user_id, r.id)))
        return r

    async def pause(self) -> ProcessingPause | None:
        return self._pause

    async def set_pause(self, paused: bool, *, audit: AuditEntry) -> ProcessingPause | None:
        if paused and self._pause is None:
            self._pause = ProcessingPause(paused_by=audit.actor, paused_at=self._reports.clock.now())
        elif not paused:
            self._pause = None
        self._reports.audit.record(audit)
        return self._pause
