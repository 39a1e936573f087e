"""Reports as the web sees them: a request is a durable row first, then a wake-up message; then reads.

The row is the record and the message only a hint: a broker that is down delays a report (the
worker's sweeper sends it later), never loses it.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from domain.batching import TurnBatch
from domain.errors import ReportNotFoundError, ReportNotReadyError, UnavailableError, UserNotFoundError
from domain.models.audit import REPORT_REQUEUE, Actor, AuditEntry
from domain.models.reports import Report, ReportPage, ReportRequest, ReportStatus
from domain.ports.reports import ReportQueue, ReportRepository
from domain.services.reports.policy import ReportPolicy

log = logging.getLogger("folio.reports")


class ReportDesk:
    """Takes report requests and answers questions about them; never runs one."""

    def __init__(self, reports: ReportRepository, queue: ReportQueue, policy: ReportPolicy) -> None:
        self._reports = reports
        self._queue = queue
        self._policy = policy
        self._intake: TurnBatch[tuple[int, str | None], ReportRequest] = TurnBatch(self._record)

    async def request(self, user_id: int, idempotency_key: str | None) -> ReportRequest:
        """Record the request, then wake a worker. A repeated key returns the first report, not sent again.

        The requests of one event-loop turn are recorded in one write and sent in one round trip (see TurnBatch);
        each returns once its row is durable.

        Raises:
            UserNotFoundError: no such user.
        """
        return await self._intake.submit((user_id, idempotency_key))

    async def _record(self, requests: Sequence[tuple[int, str | None]]) -> list[ReportRequest | UserNotFoundError]:
        results = await self._reports.create_many(requests, self._policy.deadline_s)
        created = [r.report.id for r in results if isinstance(r, ReportRequest) and r.created]
        if created:
            try:
                await self._queue.send_many(created)
            except UnavailableError as e:
                log.warning("reports queued, broker unavailable: the sweeper will send them (%s)", e.detail,
                            extra={"report_ids": created})  # fmt: skip
        return results

    async def requeue(self, report_id: str, *, caller: Actor) -> Report:
        """Put a failed report back in the queue (audited as `caller`), then wake a worker; the sweeper sends
        it if the broker is down. ReportNotFoundError, or ReportNotFailedError when it has not failed."""
        entry = AuditEntry.by(caller, REPORT_REQUEUE, report_id)
        report = await self._reports.requeue_failed(report_id, self._policy.deadline_s, audit=entry)
        try:
            await self._queue.send(report.id)
        except UnavailableError as e:
            log.warning("report requeued, broker unavailable: the sweeper will send it (%s)", e.detail,
                        extra={"report_id": report.id})  # fmt: skip
        return report

    def estimated_completion(self, report: Report) -> datetime:
        return report.created_at + timedelta(seconds=self._policy.estimate_s)

    async def get(self, report_id: str) -> Report:
        report = await self._reports.get(report_id)
        if report is None:
            raise ReportNotFoundError(report_id)
        return report

    async def document(self, report_id: str) -> bytes:
        """The PDF; ReportNotReadyError while it is not rendered yet."""
        report = await self.get(report_id)
        document = await self._reports.document(report_id) if report.has_document else None
        if document is None:
            raise ReportNotReadyError(report_id, report.status)
        return document

    async def by_status(self, status: ReportStatus, *, limit: int, cursor: str | None) -> ReportPage:
        return await self._reports.by_status(status, limit=limit, cursor=cursor)

    async def of_user(self, user_id: int, *, limit: int, cursor: str | None) -> ReportPage:
        """The user's reports, newest first; UserNotFoundError when there is no such user."""
        return await self._reports.of_user(user_id, limit=limit, cursor=cursor)
