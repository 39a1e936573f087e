"""What operators do to report processing from the console: dead letters by filter, requeue in batch,
cancel, and pause or resume. Every change is audited in its own transaction (by the store).

A pause is a row, not a broker trick: while it stands, a worker that gets a report's message leaves the row
`queued` and drops the message (the row is the record, the message only a hint). Resuming sends every queued
report again, and the sweeper re-sends any that is still queued past its deadline, so nothing is lost.
"""

import logging

from domain.errors import UnavailableError
from domain.models.audit import REPORT_CANCEL, REPORT_REQUEUE, REPORTS_PAUSE, REPORTS_RESUME, Actor, AuditEntry
from domain.models.reports import DeadLetterFilter, ProcessingPause, Report
from domain.ports.report_control import ReportControl
from domain.ports.reports import ReportQueue, ReportRepository
from domain.services.reports.policy import ReportPolicy

log = logging.getLogger("folio.reports")

BATCH_MAX = 500  # reports one batch requeue puts back (an operator repeats it for more)
RESEND_PAGE = 500


class ReportOperations:
    def __init__(
        self, control: ReportControl, reports: ReportRepository, queue: ReportQueue, policy: ReportPolicy
    ) -> None:
        self._control = control
        self._reports = reports
        self._queue = queue
        self._policy = policy

    async def dead_letters(self, matching: DeadLetterFilter, *, limit: int) -> tuple[Report, ...]:
        return await self._control.dead_letters(matching, limit=limit)

    async def requeue_matching(self, matching: DeadLetterFilter, *, caller: Actor) -> tuple[Report, ...]:
        """Requeue up to BATCH_MAX failed reports that match, each audited as `caller`, then wake workers."""
        change = {"reason": matching.reason, "older_than_s": matching.older_than_s}
        entry = AuditEntry.by(caller, REPORT_REQUEUE, "reports", change={"batch": change})
        done = await self._control.requeue_matching(matching, self._policy.deadline_s, limit=BATCH_MAX, audit=entry)
        await self._send([r.id for r in done])
        return done

    async def cancel(self, report_id: str, *, caller: Actor) -> Report:
        """ReportNotFoundError, or ReportNotCancellableError unless the report is queued or failed."""
        return await self._control.cancel(report_id, audit=AuditEntry.by(caller, REPORT_CANCEL, report_id))

    async def pause(self) -> ProcessingPause | None:
        return await self._control.pause()

    async def set_paused(self, paused: bool, *, caller: Actor) -> ProcessingPause | None:
        """Pause or resume; resuming sends every queued report again, at once."""
        entry = AuditEntry.by(caller, REPORTS_PAUSE if paused else REPORTS_RESUME, "reports")
        now = await self._control.set_pause(paused, audit=entry)
        if not paused:
            cursor: str | None = None
            while True:
                page = await self._reports.by_status("queued", limit=RESEND_PAGE, cursor=cursor)
                await self._send([r.id for r in page.items])
                if (cursor := page.next_cursor) is None:
                    break
        return now

    async def _send(self, report_ids: list[str]) -> None:
        for report_id in report_ids:
            try:
                await self._queue.send(report_id)
            except UnavailableError as e:  # the row is queued: the sweeper sends it once the broker is back
                log.warning("report queued, broker unavailable: the sweeper will send it (%s)", e.detail,
                            extra={"report_id": report_id})  # fmt: skip
                return
