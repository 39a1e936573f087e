"""The report desk and runner with the in-memory twins: claims, fencing, the email intent, retries and the sweeper."""

from decimal import Decimal

import pytest

from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.metrics import InMemoryMetrics
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.adapters.memory.reports import (
    FakeReportRenderer,
    InMemoryMailer,
    InMemoryReportQueue,
    InMemoryReportRepository,
)
from domain.errors import MailNotSentError, MailOutcomeUnknownError, UserNotFoundError
from domain.models.holdings import Holding
from domain.models.quotes import Instrument, build_snapshot
from domain.services.reports.desk import ReportDesk
from domain.services.reports.policy import ReportPolicy
from domain.services.reports.runner import ReportRetryError, ReportRunner, ReportTools

POLICY = ReportPolicy(deadline_s=60, max_attempts=3, history_days=252, risk_free_rate=0.0, estimate_s=5,
                      base_currency="USD")  # fmt: skip


class World:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.reports = InMemoryReportRepository({7: ("seven@example.com", "Seven")}, clock=self.clock)
        self.queue = InMemoryReportQueue()
        self.mailer = InMemoryMailer()
        self.renderer = FakeReportRenderer()
        holdings = InMemoryHoldingsRepository()
        holdings.add_user(7, Holding(instrument_id=1, quantity=Decimal(2), average_cost=Decimal(5)))
        quotes = InMemoryQuoteRepository()
        inst = Instrument(id=1, symbol="ACME", name="Acme", asset_class="equity", currency="USD", exchange="X")
        snapshot = build_snapshot(1, {1: inst}, {}, "USD")

        async def current():
            return snapshot

        self.metrics = InMemoryMetrics()
        self.tools = ReportTools(holdings=holdings, quotes=quotes, snapshot=current, renderer=self.renderer,
                                 mailer=self.mailer, metrics=self.metrics, clock=self.clock)  # fmt: skip
        self.desk = ReportDesk(self.reports, self.queue, POLICY)
        self.runner = ReportRunner(self.reports, self.queue, self.tools, POLICY)

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds)


@pytest.fixture
def world() -> World:
    return World()


async def test_request_records_then_queues_and_a_repeated_key_returns_the_first_report(world):
    first = await world.desk.request(7, "k1")
    again = await world.desk.request(7, "k1")
    assert first.created
    assert not again.created
    assert again.report.id == first.report.id
    assert world.queue.sent == [first.report.id]
    with pytest.raises(UserNotFoundError):
        await world.desk.request(8, None)


async def test_a_broker_that_is_down_does_not_lose_the_request(world):
    world.queue.available = False
    result = await world.desk.request(7, None)
    assert result.report.status == "queued"
    world.queue.available = True
    world.later(61)
    assert await world.runner.sweep() == 1
    assert world.queue.sent == [result.report.id]


async def test_run_renders_stores_emails_once_and_a_second_message_changes_nothing(world):
    rid = (await world.desk.request(7, None)).report.id
    assert await world.runner.run(rid) == "succeeded"
    assert await world.runner.run(rid) == "skipped"
    report = await world.desk.get(rid)
    assert (report.status, report.email_status, report.attempts) == ("succeeded", "sent", 1)
    assert len(world.mailer.sent) == 1
    assert world.mailer.sent[0].to == "seven@example.com"
    assert world.mailer.sent[0].headers["X-Folio-Report-Id"] == rid
    assert await world.desk.document(rid) == world.mailer.sent[0].attachment


async def test_an_attempt_stopped_while_sending_is_never_resent(world):
    rid = (await world.desk.request(7, None)).report.id
    claim = await world.reports.claim(rid, 60)
    assert await world.reports.set_email_status(claim, "sending", expected="pending")
    # ... the worker dies here. Its lease runs out; the sweeper sends the report again.
    world.later(61)
    assert await world.runner.sweep() == 1
    assert await world.runner.run(rid) == "failed"
    report = await world.desk.get(rid)
    assert report.email_status == "unknown"
    assert "not resent" in report.error
    assert world.mailer.sent == []


async def test_a_refusing_mail_server_is_retried_then_failed_with_the_reason(world):
    rid = (await world.desk.request(7, None)).report.id
    world.mailer.fail_with = MailNotSentError("SMTP server unreachable: refused")
    for _ in range(2):
        with pytest.raises(ReportRetryError):
            await world.runner.run(rid)
        assert (await world.desk.get(rid)).status == "queued"
    assert await world.runner.run(rid) == "failed"
    report = await world.desk.get(rid)
    assert report.attempts == 3
    assert report.email_status == "pending"
    assert "gave up after 3 attempts" in report.error
    assert "refused" in report.error
    assert len(world.renderer.rendered) == 1  # the stored PDF is reused by later attempts


async def test_an_unknown_mail_outcome_fails_the_report_without_a_retry(world):
    rid = (await world.desk.request(7, None)).report.id
    world.mailer.fail_with = MailOutcomeUnknownError("connection lost after DATA")
    assert await world.runner.run(rid) == "failed"
    assert (await world.desk.get(rid)).email_status == "unknown"


async def test_a_stale_attempt_cannot_write_after_another_claimed_the_report(world):
    rid = (await world.desk.request(7, None)).report.id
    stale = await world.reports.claim(rid, 60)
    world.later(61)
    fresh = await world.reports.claim(rid, 60)
    assert fresh is not None
    assert fresh.attempt == stale.attempt + 1
    assert not await world.reports.finish(stale, "succeeded", None)
    assert not await world.reports.set_email_status(stale, "sending", expected="pending")
    assert await world.reports.finish(fresh, "succeeded", None)


async def test_a_live_attempt_is_not_claimed_twice(world):
    rid = (await world.desk.request(7, None)).report.id
    assert await world.reports.claim(rid, 60) is not None
    assert await world.reports.claim(rid, 60) is None
    assert await world.runner.sweep() == 0
