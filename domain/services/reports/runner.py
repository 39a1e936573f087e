"""Reports as the worker runs them: one attempt (idempotent, fenced), and the sweeper.

An attempt claims the row (which counts it), renders and stores the PDF once, records the email
intent before sending and the outcome after the server's 250, then finishes the row. A worker
killed anywhere leaves the row `running` until its lease runs out; the sweeper then queues and
sends it again, and the next attempt picks up where the record says: the stored PDF is reused, a
`sent` email is not sent again, and an email whose sending was interrupted (`sending`) is never
resent but marked `unknown` for an operator.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from domain.analytics.portfolio import analyse
from domain.errors import (
    DomainError,
    InvalidRequestError,
    MailNotSentError,
    MailOutcomeUnknownError,
    NotFoundError,
    UnavailableError,
    UserNotFoundError,
)
from domain.models.quotes import QuoteSnapshot
from domain.models.reports import Email, PortfolioAnalytics, ReportClaim, ReportDocument, ReportHolding
from domain.ports.clock import Clock
from domain.ports.holdings import HoldingsRepository
from domain.ports.metrics import Metrics
from domain.ports.quotes import QuoteRepository
from domain.ports.reports import Mailer, ReportQueue, ReportRenderer, ReportRepository
from domain.services.reports.policy import ReportPolicy
from domain.services.valuation import priced

log = logging.getLogger("folio.reports")

SWEEP_BATCH = 100
_T = TypeVar("_T")


class ReportRetryError(UnavailableError):
    """An attempt failed for a reason that may pass; the row is `queued` again and the queue retries it."""


class _SupersededError(Exception):
    """Another attempt claimed the report meanwhile; this one stops without writing."""


@dataclass(frozen=True, slots=True)
class ReportTools:
    """What an attempt reads and drives: the record of holdings and prices, the renderer, the mail."""

    holdings: HoldingsRepository
    quotes: QuoteRepository
    snapshot: Callable[[], Awaitable[QuoteSnapshot]]
    renderer: ReportRenderer
    mailer: Mailer
    metrics: Metrics  # each attempt's outcome and time, for the operators
    clock: Clock


class ReportRunner:
    """Runs report attempts and sends stale reports again; the worker's side of reports."""

    def __init__(
        self,
        reports: ReportRepository,
        queue: ReportQueue,
        tools: ReportTools,
        policy: ReportPolicy,
        *,
        paused: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._reports = reports
        self._paused = paused  # truthy while operators have paused report processing
        self._queue = queue
        self._tools = tools
        self._policy = policy
        self._compute_gate = asyncio.Semaphore(policy.compute_concurrency)
        self._attempts: dict[str, float] = {}  # report id -> when its attempt claimed it (metrics)

    async def run(self, report_id: str) -> str:
        """One attempt at a report; returns what happened. Raises ReportRetryError to be retried later.

        The claim and the document (analytics, charts, PDF: CPU work) happen one report at a time per
        process, behind the compute gate: threads that interleave CPU work under one interpreter lock
        finish every report later and none sooner. Waiting reports stay `queued` (their lease has not
        started); the email, which waits on the network, goes out after the gate is passed on.
        """
        if self._paused is not None and await self._paused():
            # Held, not lost: the row stays `queued`; resuming (or the sweeper) sends the report again.
            log.info("report processing is paused: report left queued", extra={"report_id": report_id})
            return "paused"
        async with self._compute_gate:
            claim = await self._reports.claim(report_id, self._policy.deadline_s)
            if claim is None:
                log.info("report not claimable (finished, held by a live attempt, or unknown)",
                         extra={"report_id": report_id})  # fmt: skip
                return "skipped"
            extra = {"report_id": report_id, "user_id": claim.user_id, "attempt": claim.attempt}
            log.info("report attempt started", extra=extra)
            self._attempts[report_id] = time.perf_counter()
            outcome, document = await self._step(claim, extra, self._document(claim))
        if outcome is None and document is not None:
            outcome, _ = await self._step(claim, extra, self._deliver(claim, document))
        self._attempt_ended(report_id, outcome or "succeeded")
        if outcome is not None:
            return outcome
        log.info("report succeeded", extra=extra)
        return "succeeded"

    async def _step(
        self, claim: ReportClaim, extra: dict[str, object], work: Awaitable[_T]
    ) -> tuple[str | None, _T | None]:
        """Await one part of an attempt: (None, its result), or (the attempt's outcome, None)."""
        try:
            return None, await work
        except _SupersededError:
            log.warning("report attempt superseded by a newer one; stopping", extra=extra)
            return "superseded", None
        except MailOutcomeUnknownError as e:
            await self._reports.set_email_status(claim, "unknown", expected="sending")
            return await self._fail(claim, f"email outcome unknown, not resent: {e.detail}", extra), None
        except (NotFoundError, InvalidRequestError) as e:
            return await self._fail(claim, e.detail, extra), None
        except Exception as e:  # noqa: BLE001 - any other failure is retried, then recorded with its reason
            return await self._retry_or_fail(claim, _reason(e), extra, e), None

    async def _deliver(self, claim: ReportClaim, document: bytes) -> None:
        if claim.email_status in ("sending", "unknown"):
            raise MailOutcomeUnknownError("an earlier attempt stopped while sending the email")
        if claim.email_status == "pending":
            await self._email(claim, document)
        if not await self._reports.finish(claim, "succeeded", None):
            raise _SupersededError

    async def _email(self, claim: ReportClaim, document: bytes) -> None:
        if not await self._reports.set_email_status(claim, "sending", expected="pending"):
            raise _SupersededError
        try:
            await self._tools.mailer.send(_email(claim, document, self._tools.clock.now().date().isoformat()))
        except MailNotSentError:
            await self._reports.set_email_status(claim, "pending", expected="sending")
            raise
        await self._reports.set_email_status(claim, "sent", expected="sending")
        log.info("report emailed", extra={"report_id": claim.report_id, "attempt": claim.attempt})

    async def _document(self, claim: ReportClaim) -> bytes:
        if claim.has_document:
            stored = await self._reports.document(claim.report_id)
            if stored is not None:
                return stored
        analytics = await self.analytics(claim.user_id)
        request = ReportDocument(
            report_id=claim.report_id,
            user_id=claim.user_id,
            recipient_name=claim.recipient_name,
            generated_at=self._tools.clock.now(),
            analytics=analytics,
        )
        # Charts and PDF are CPU work: off the event loop, which the worker's other threads share.
        document = await asyncio.to_thread(self._tools.renderer.render, request)
        if not await self._reports.store_document(claim, document):
            raise _SupersededError
        return document

    async def analytics(self, user_id: int) -> PortfolioAnalytics:
        """The figures of a report for the user's current holdings."""
        holdings = await self._tools.holdings.get(user_id)
        if holdings is None:
            raise UserNotFoundError(user_id)
        snapshot = await self._tools.snapshot()
        ids = [h.instrument_id for h in holdings.items if h.instrument_id in snapshot.instruments]
        closes = await self._tools.quotes.daily_closes_many(ids, self._policy.history_days)
        lines = []
        for h in holdings.items:
            found = priced(h, snapshot)
            if found is None:
                continue
            inst, price, fx = found
            lines.append(
                ReportHolding(
                    symbol=inst.symbol,
                    name=inst.name,
                    asset_class=inst.asset_class,
                    currency=inst.currency,
                    quantity=h.quantity,
                    average_cost=h.average_cost,
                    price=price,
                    fx_to_base=fx,
                    closes=closes.get(h.instrument_id, ()),
                )
            )
        return analyse(
            lines,
            base_currency=snapshot.base_currency,
            risk_free_rate=self._policy.risk_free_rate,
            days=self._policy.history_days,
        )

    async def _fail(self, claim: ReportClaim, reason: str, extra: dict[str, object]) -> str:
        await self._reports.finish(claim, "failed", reason)
        log.error("report failed: %s", reason, extra=extra)
        return "failed"

    async def _retry_or_fail(self, claim: ReportClaim, reason: str, extra: dict[str, object], e: Exception) -> str:
        if claim.attempt >= self._policy.max_attempts:
            return await self._fail(claim, f"gave up after {claim.attempt} attempts: {reason}", extra)
        await self._reports.release(claim, reason, self._policy.deadline_s)
        log.warning("report attempt failed, will retry: %s", reason, extra=extra)
        self._attempt_ended(claim.report_id, "retry")
        raise ReportRetryError(reason) from e

    def _attempt_ended(self, report_id: str, outcome: str) -> None:
        """Record the attempt's outcome and its time since the claim (worker only)."""
        started = self._attempts.pop(report_id, None)
        if started is not None:
            self._tools.metrics.report_attempt(outcome, time.perf_counter() - started)

    async def sweep(self) -> int:
        """Send again every report stuck in `queued`/`running` past its deadline; return how many."""
        ids = await self._reports.requeue_stale(self._policy.deadline_s, SWEEP_BATCH)
        for report_id in ids:
            log.warning("report past its deadline: sending it again", extra={"report_id": report_id})
            await self._queue.send(report_id)
        return len(ids)

    async def sweep_forever(self, interval_s: float) -> None:
        """Run `sweep` every `interval_s` until cancelled; failures are logged and the loop goes on."""
        while True:
            try:
                await self.sweep()
            except DomainError as e:
                log.warning("report sweep failed: %s", e.detail)
            except Exception:
                log.exception("report sweep failed")
            await asyncio.sleep(interval_s)


def _reason(e: Exception) -> str:
    detail = e.detail if isinstance(e, DomainError) else str(e)
    return f"{type(e).__name__}: {detail}"[:500]


def _email(claim: ReportClaim, document: bytes, day: str) -> Email:
    return Email(
        to=claim.recipient,
        subject=f"Your Folio portfolio report ({day})",
        text=(
            f"Hello {claim.recipient_name},\n\nyour portfolio report is attached as a PDF: current value,"
            " allocation, a year of performance and risk figures.\n\nFolio\n"
        ),
        attachment_name=f"folio-report-{day}.pdf",
        attachment=document,
        headers={"X-Folio-Report-Id": claim.report_id},
    )
