"""In-memory twins of the report ports: the repository (leases, fenced writes), the queue, the
mailer, a fake renderer, and the report statistics."""

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.clock import FixedClock
from domain.errors import (
    InvalidRequestError,
    ReportNotFailedError,
    ReportNotFoundError,
    UnavailableError,
    UserNotFoundError,
)
from domain.models.audit import AuditEntry, report_target
from domain.models.reports import Email, Report, ReportClaim, ReportDocument, ReportPage, ReportRequest, ReportStatus
from domain.ports.clock import Clock
from domain.ports.reports import Mailer, ReportQueue, ReportRenderer, ReportRepository, ReportStatistics


class InMemoryReportRepository(ReportRepository):
    """The Postgres repository's rules in a dict: fenced writes, idempotency keys, stale requeue."""

    def __init__(
        self,
        users: dict[int, tuple[str, str]] | None = None,
        clock: Clock | None = None,
        audit: InMemoryAuditLog | None = None,
    ) -> None:
        self.users = users if users is not None else {}  # id -> (email, name)
        self.rows: dict[str, Report] = {}
        self.documents: dict[str, bytes] = {}
        self.keys: dict[tuple[int, str], str] = {}
        self.clock = clock or FixedClock()  # stands for the database server's now()
        self.audit = audit or InMemoryAuditLog(self.clock)

    def _due(self, seconds: float) -> datetime:
        return self.clock.now() + timedelta(seconds=seconds)

    async def create(self, user_id: int, idempotency_key: str | None, deadline_s: float) -> ReportRequest:
        if user_id not in self.users:
            raise UserNotFoundError(user_id)
        if idempotency_key is not None and (user_id, idempotency_key) in self.keys:
            return ReportRequest(report=self.rows[self.keys[user_id, idempotency_key]], created=False)
        report = Report(
            id=str(uuid.uuid4()), user_id=user_id, status="queued", attempts=0, email_status="pending", error=None,
            has_document=False, created_at=self.clock.now(), started_at=None, finished_at=None,
            deadline_at=self._due(deadline_s),
        )  # fmt: skip
        self.rows[report.id] = report
        if idempotency_key is not None:
            self.keys[user_id, idempotency_key] = report.id
        return ReportRequest(report=report, created=True)

    async def get(self, report_id: str) -> Report | None:
        return self.rows.get(report_id)

    async def document(self, report_id: str) -> bytes | None:
        return self.documents.get(report_id)

    async def claim(self, report_id: str, lease_s: float) -> ReportClaim | None:
        r = self.rows.get(report_id)
        if r is None or not (r.status == "queued" or (r.status == "running" and r.deadline_at < self.clock.now())):
            return None
        r = msgspec.structs.replace(
            r, status="running", attempts=r.attempts + 1, started_at=self.clock.now(), finished_at=None,
            deadline_at=self._due(lease_s),
        )  # fmt: skip
        self.rows[report_id] = r
        email, name = self.users[r.user_id]
        return ReportClaim(
            report_id=report_id, user_id=r.user_id, attempt=r.attempts, email_status=r.email_status,
            has_document=r.has_document, recipient=email, recipient_name=name,
        )  # fmt: skip

    def _live(self, claim: ReportClaim) -> Report | None:
        r = self.rows.get(claim.report_id)
        return r if r is not None and r.status == "running" and r.attempts == claim.attempt else None

    async def store_document(self, claim: ReportClaim, document: bytes) -> bool:
        if (r := self._live(claim)) is None:
            return False
        self.documents[r.id] = document
        self.rows[r.id] = msgspec.structs.replace(r, has_document=True)
        return True

    async def set_email_status(self, claim: ReportClaim, status: str, *, expected: str) -> bool:
        r = self._live(claim) if status == "pending" or expected == "pending" else self.rows.get(claim.report_id)
        if r is None or r.email_status != expected:
            return False
        self.rows[r.id] = msgspec.structs.replace(r, email_status=status)
        return True

    async def finish(self, claim: ReportClaim, status: ReportStatus, error: str | None) -> bool:
        if (r := self._live(claim)) is None:
            return False
        self.rows[r.id] = msgspec.structs.replace(r, status=status, error=error, finished_at=self.clock.now())
        return True

    async def release(self, claim: ReportClaim, error: str, deadline_s: float) -> bool:
        if (r := self._live(claim)) is None:
            return False
        self.rows[r.id] = msgspec.structs.replace(r, status="queued", error=error, deadline_at=self._due(deadline_s))
        return True

    async def requeue_stale(self, deadline_s: float, limit: int) -> list[str]:
        stale = sorted(
            (r for r in self.rows.values() if r.status in ("queued", "running") and r.deadline_at < self.clock.now()),
            key=lambda r: r.deadline_at,
        )[:limit]
        for r in stale:
            self.rows[r.id] = msgspec.structs.replace(r, status="queued", deadline_at=self._due(deadline_s))
        return [r.id for r in stale]

    async def requeue_failed(self, report_id: str, deadline_s: float, *, audit: AuditEntry) -> Report:
        r = self.rows.get(report_id)
        if r is None:
            raise ReportNotFoundError(report_id)
        if r.status != "failed":
            raise ReportNotFailedError(report_id, r.status)
        r = msgspec.structs.replace(
            r, status="queued", attempts=0, error=None, started_at=None, finished_at=None,
            deadline_at=self._due(deadline_s),
        )  # fmt: skip
        self.rows[report_id] = r
        self.audit.record(audit.completed(target=report_target(r.user_id, r.id)))
        return r

    async def by_status(self, status: ReportStatus, *, limit: int, cursor: str | None) -> ReportPage:
        return self._page(lambda r: r.status == status, limit, cursor)

    async def of_user(self, user_id: int, *, limit: int, cursor: str | None) -> ReportPage:
        if user_id not in self.users:  # unknown, or erased (erasure drops the user): its reports are no one's
            self._page(lambda r: False, limit, cursor)  # a bad cursor is still the 422 it is for a known user
            raise UserNotFoundError(user_id)
        return self._page(lambda r: r.user_id == user_id, limit, cursor)

    def erase_user(self, user_id: int) -> None:
        """What erasure does to the user's reports: the PDFs go, and those not finished fail."""
        for report in [r for r in self.rows.values() if r.user_id == user_id]:
            self.documents.pop(report.id, None)
            erased = msgspec.structs.replace(report, has_document=False)
            if report.status in ("queued", "running"):
                erased = msgspec.structs.replace(
                    erased, status="failed", error="the user was erased", finished_at=self.clock.now()
                )
            self.rows[report.id] = erased
        self.users.pop(user_id, None)

    def _page(self, chosen: Callable[[Report], bool], limit: int, cursor: str | None) -> ReportPage:
        # The clock stands still, so creation order breaks ties; like PostgreSQL's (created_at, id) cursor,
        # the page resumes after the cursor's position even when that report has changed status since.
        order = {rid: i for i, rid in enumerate(self.rows)}

        def position(r: Report) -> tuple[datetime, int]:
            return r.created_at, order[r.id]

        if cursor is not None and cursor not in self.rows:
            raise InvalidRequestError("the cursor is not one this API gave out", field="cursor")
        after = position(self.rows[cursor]) if cursor is not None else None
        ordered = sorted((r for r in self.rows.values() if chosen(r) and (after is None or position(r) < after)),
                         key=position, reverse=True)  # fmt: skip
        items = tuple(ordered[:limit])
        return ReportPage(items=items, next_cursor=items[-1].id if len(ordered) > limit and items else None)


class InMemoryReportQueue(ReportQueue):
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.available = True

    async def send(self, report_id: str) -> None:
        if not self.available:
            raise UnavailableError("the broker is not answering")
        self.sent.append(report_id)


class InMemoryMailer(Mailer):
    """Keeps sent emails; `fail_with` makes the next sends raise (a refusal or an unknown outcome)."""

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.fail_with: Exception | None = None

    async def send(self, email: Email) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(email)


class FakeReportRenderer(ReportRenderer):
    """A tiny stand-in document: a PDF header, then the whole document (report id, recipient, figures)
    encoded, so tests can read it back."""

    def __init__(self) -> None:
        self.rendered: list[ReportDocument] = []

    def render(self, document: ReportDocument) -> bytes:
        self.rendered.append(document)
        return b"%PDF-fake\n" + msgspec.json.encode(document)


class InMemoryReportStatistics(ReportStatistics):
    def __init__(self, reports: InMemoryReportRepository) -> None:
        self._reports = reports

    async def counts(self) -> dict[str, int]:
        return dict(Counter(report.status for report in self._reports.rows.values()))

    async def oldest_queued_age_s(self) -> float:
        queued = [report.created_at for report in self._reports.rows.values() if report.status == "queued"]
        if not queued:
            return 0.0
        return max((self._reports.clock.now() - min(queued)).total_seconds(), 0.0)
