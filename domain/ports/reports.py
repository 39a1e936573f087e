"""Reports: the durable record of requests, the queue that wakes a worker, the renderer, the mail,
and the counts operators watch."""

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol

from domain.errors import UserNotFoundError
from domain.models.audit import AuditEntry
from domain.models.reports import (
    Email,
    Report,
    ReportClaim,
    ReportDocument,
    ReportPage,
    ReportRequest,
    ReportStatus,
)


class ReportRepository(Protocol):
    """The durable record of report requests. Every write of an attempt is fenced by its `attempt`
    number: once another attempt has claimed the report, a stale attempt's writes change nothing."""

    @abstractmethod
    async def create(self, user_id: int, idempotency_key: str | None, deadline_s: float) -> ReportRequest:
        """Insert a `queued` report due within `deadline_s`; a repeated key returns the first report.

        Raises:
            UserNotFoundError: no such user.
        """

    async def create_many(
        self, requests: Sequence[tuple[int, str | None]], deadline_s: float
    ) -> list[ReportRequest | UserNotFoundError]:
        """`create` for each `(user_id, idempotency_key)`, in one write where the store can (the requests of one
        event-loop turn share it); each result in its request's place, a UserNotFoundError for a missing user.
        A key repeated within `requests` creates one report; the later ones return it with `created` False."""
        results: list[ReportRequest | UserNotFoundError] = []
        for user_id, key in requests:
            try:
                results.append(await self.create(user_id, key, deadline_s))
            except UserNotFoundError as e:
                results.append(e)
        return results

    @abstractmethod
    async def get(self, report_id: str) -> Report | None:
        """The report without its document; None when there is no such report."""

    @abstractmethod
    async def document(self, report_id: str) -> bytes | None:
        """The stored PDF, or None."""

    @abstractmethod
    async def claim(self, report_id: str, lease_s: float) -> ReportClaim | None:
        """Move `queued` (or `running` past its deadline) to `running`, count the attempt, hold it for
        `lease_s`. None when the report is finished, held by a live attempt, or unknown."""

    @abstractmethod
    async def store_document(self, claim: ReportClaim, document: bytes) -> bool:
        """Keep the PDF; False when the claim is stale."""

    @abstractmethod
    async def set_email_status(self, claim: ReportClaim, status: str, *, expected: str) -> bool:
        """Move the email status from `expected` to `status`; False when it was not `expected`, or when
        the move leaves or enters `pending` and the claim is stale (the caller must then not send).
        The outcome of an email already handed over (`sending` to `sent`) is recorded even for a
        superseded attempt: it is what happened."""

    @abstractmethod
    async def finish(self, claim: ReportClaim, status: ReportStatus, error: str | None) -> bool:
        """End the attempt as `succeeded` or `failed` (with the reason); False when the claim is stale."""

    @abstractmethod
    async def release(self, claim: ReportClaim, error: str, deadline_s: float) -> bool:
        """Put the report back to `queued` after a transient failure (the reason kept in `error`)."""

    @abstractmethod
    async def requeue_stale(self, deadline_s: float, limit: int) -> list[str]:
        """Reports in `queued` or `running` past their deadline, put back to `queued` with a new deadline.

        Safe under concurrent sweepers: each stale report is returned to one of them.
        """

    @abstractmethod
    async def requeue_failed(self, report_id: str, deadline_s: float, *, audit: AuditEntry) -> Report:
        """Put a `failed` report (a dead letter) back to `queued` with fresh attempts and a new deadline, and
        append `audit` in the same transaction. The email status is kept: an email that may have gone out is
        still never sent again.

        Raises:
            ReportNotFoundError: no such report.
            ReportNotFailedError: the report is not `failed` (it is queued, running or succeeded).
        """

    @abstractmethod
    async def by_status(self, status: ReportStatus, *, limit: int, cursor: str | None) -> ReportPage:
        """Reports in `status`, newest first, paged by the opaque `cursor` of the previous page.

        Raises:
            InvalidRequestError: the cursor is not one this repository gave out.
        """

    @abstractmethod
    async def of_user(self, user_id: int, *, limit: int, cursor: str | None) -> ReportPage:
        """The user's reports (any status), newest first, paged as `by_status` is.

        Raises:
            InvalidRequestError: the cursor is not one this repository gave out.
            UserNotFoundError: no such user, or an erased one (whose reports are no longer anyone's).
        """


class ReportQueue(Protocol):
    """Wakes a worker for a report. At most a hint: the repository row is the record."""

    @abstractmethod
    async def send(self, report_id: str) -> None:
        """Ask a worker to run the report; each send wakes a worker (the row decides what runs).

        Raises:
            UnavailableError: the broker cannot take the message now (the sweeper sends it later).
        """

    async def send_many(self, report_ids: Sequence[str]) -> None:
        """`send` for each report, in one round trip where the broker can.

        Raises:
            UnavailableError: the broker did not take them all (the sweeper sends the rest later).
        """
        for report_id in report_ids:
            await self.send(report_id)


class ReportRenderer(Protocol):
    """Turns a report's figures into a document a person reads (CPU-bound; called off the event loop)."""

    @abstractmethod
    def render(self, document: ReportDocument) -> bytes:
        """The PDF bytes (they start with `%PDF-`), which name the report id, for any figures (an empty
        portfolio too) and any recipient name (shown as text, never read as markup)."""


class Mailer(Protocol):
    """Sends one email and says for certain whether it was handed over."""

    @abstractmethod
    async def send(self, email: Email) -> None:
        """Return once the server accepted the message (SMTP 250).

        Raises:
            MailNotSentError: the message was certainly not accepted (refused, unreachable): retry.
            MailOutcomeUnknownError: the connection broke after the message was handed over.
        """


class ReportStatistics(Protocol):
    """How many reports are in each status, for the metrics."""

    @abstractmethod
    async def counts(self) -> dict[str, int]:
        """The number of reports per status (statuses without reports may be absent).

        Raises:
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def oldest_queued_age_s(self) -> float:
        """How long the oldest report still queued has waited since it was requested (0 when none is queued).

        Raises:
            UnavailableError: the store cannot answer now.
        """
