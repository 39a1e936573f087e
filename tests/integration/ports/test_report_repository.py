"""One contract for the report repository, run against the in-memory twin and the real PostgreSQL adapter.

Time is never waited for: a negative `deadline_s`/`lease_s` gives a deadline that has already passed, in
both adapters (the twin's clock stands still; PostgreSQL's `now()` moves on between statements).
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest

from config.settings import Settings
from config.wiring.resources import pool_config
from domain.adapters.memory.reports import InMemoryReportRepository
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.pool import Pool, open_pool
from domain.adapters.postgres.reports import PostgresReportRepository
from domain.errors import InvalidRequestError, ReportNotFailedError, ReportNotFoundError, UserNotFoundError
from domain.models.audit import REPORT_REQUEUE, AuditEntry
from domain.models.reports import ReportClaim
from domain.ports.reports import ReportRepository

pytestmark = pytest.mark.integration

# A user of this suite's own (no demo user): created for the module, deleted with its reports afterwards.
USER, EMAIL, NAME = 990_001, "report-contract@example.com", "Report Contract"
OTHER, OTHER_EMAIL, OTHER_NAME = 990_002, "report-contract-2@example.com", "Report Contract Two"
QUIET, QUIET_EMAIL, QUIET_NAME = 990_003, "report-contract-3@example.com", "Report Contract Three"  # no reports
NO_SUCH_USER = 990_999
PEOPLE = ((USER, EMAIL, NAME), (OTHER, OTHER_EMAIL, OTHER_NAME), (QUIET, QUIET_EMAIL, QUIET_NAME))
LEASE_S = 300.0
PASSED = -3600.0  # a deadline an hour ago
AGES_AGO = -10 * 365 * 86400.0  # older than any other stale report, so a sweep returns this suite's first


@pytest.fixture(scope="module")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        for uid, email, name in PEOPLE:
            conn.execute("DELETE FROM users WHERE id = %s", (uid,))
            conn.execute("INSERT INTO users (id, email, name) VALUES (%s, %s, %s)", (uid, email, name))
    opened = await open_pool(pool_config(settings, "folio-test-reports"), NullMetrics())
    yield opened
    await opened.close()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id IN (%s, %s, %s)", (USER, OTHER, QUIET))  # the reports go with them


@pytest.fixture(params=["memory", "postgres"])
def repo(request: pytest.FixtureRequest, pool: Pool) -> ReportRepository:
    if request.param == "memory":
        return InMemoryReportRepository({uid: (email, name) for uid, email, name in PEOPLE})
    return PostgresReportRepository(pool)


async def queued(repo: ReportRepository, deadline_s: float = 60.0, user: int = USER) -> str:
    return (await repo.create(user, None, deadline_s)).report.id


async def claimed(repo: ReportRepository, lease_s: float = LEASE_S) -> ReportClaim:
    claim = await repo.claim(await queued(repo), lease_s)
    assert claim is not None
    return claim


async def superseded(repo: ReportRepository) -> tuple[ReportClaim, ReportClaim]:
    """An attempt whose lease ran out, and the newer attempt that claimed the report after it."""
    stale = await claimed(repo, lease_s=PASSED)
    fresh = await repo.claim(stale.report_id, LEASE_S)
    assert fresh is not None
    return stale, fresh


# --- create and get -------------------------------------------------------------------------------
async def test_create_records_a_queued_report_due_within_the_deadline(repo: ReportRepository):
    request = await repo.create(USER, None, 60)
    report = request.report
    assert request.created is True
    assert (report.user_id, report.status, report.attempts, report.email_status) == (USER, "queued", 0, "pending")
    assert (report.error, report.has_document, report.started_at, report.finished_at) == (None, False, None, None)
    assert report.deadline_at - report.created_at == timedelta(seconds=60)
    assert await repo.get(report.id) == report
    assert await repo.document(report.id) is None


async def test_a_repeated_idempotency_key_returns_the_first_report(repo: ReportRepository):
    first = await repo.create(USER, "contract-key", 60)
    claim = await repo.claim(first.report.id, LEASE_S)
    again = await repo.create(USER, "contract-key", 60)
    assert (first.created, again.created) == (True, False)
    assert again.report.id == first.report.id
    assert again.report.status == "running"  # the report as it is now, not as it was created
    assert claim is not None
    other_user = await repo.create(OTHER, "contract-key", 60)  # keys are per user
    assert other_user.created is True
    assert other_user.report.id != first.report.id
    without_key = [await repo.create(USER, None, 60) for _ in range(2)]
    assert without_key[0].report.id != without_key[1].report.id
    assert all(r.created for r in without_key)


async def test_an_unknown_user_is_refused(repo: ReportRepository):
    with pytest.raises(UserNotFoundError):
        await repo.create(NO_SUCH_USER, None, 60)
    with pytest.raises(UserNotFoundError):
        await repo.create(NO_SUCH_USER, "contract-key", 60)


async def test_requests_recorded_together_answer_each_in_its_place(repo: ReportRepository):
    earlier = await repo.create(USER, "together-earlier", 60)
    requests = [(USER, None), (OTHER, "together"), (NO_SUCH_USER, None), (USER, "together-earlier"),
                (OTHER, "together"), (NO_SUCH_USER, "together"), (USER, "together")]  # fmt: skip
    results = await repo.create_many(requests, 60)
    assert len(results) == len(requests)
    fresh, keyed, unknown, replayed, repeated, unknown_keyed, other_users_key = results
    assert isinstance(unknown, UserNotFoundError)
    assert isinstance(unknown_keyed, UserNotFoundError)
    for result in (fresh, keyed, replayed, repeated, other_users_key):
        assert not isinstance(result, UserNotFoundError)
    assert (fresh.created, keyed.created, replayed.created, repeated.created, other_users_key.created) == (
        True, True, False, False, True,
    )  # fmt: skip
    assert replayed.report.id == earlier.report.id
    assert repeated.report.id == keyed.report.id  # a key repeated in one group makes one report
    assert (fresh.report.user_id, keyed.report.user_id, other_users_key.report.user_id) == (USER, OTHER, USER)
    assert len({fresh.report.id, keyed.report.id, other_users_key.report.id, earlier.report.id}) == 4
    assert await repo.get(keyed.report.id) == keyed.report
    assert keyed.report.status == "queued"
    assert keyed.report.deadline_at - keyed.report.created_at == timedelta(seconds=60)


@pytest.mark.parametrize("report_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid", ""])
async def test_an_unknown_or_malformed_id_reads_as_none_and_cannot_be_claimed(repo: ReportRepository, report_id: str):
    assert await repo.get(report_id) is None
    assert await repo.document(report_id) is None
    assert await repo.claim(report_id, LEASE_S) is None


# --- claim ----------------------------------------------------------------------------------------
async def test_claim_runs_the_report_counts_the_attempt_and_holds_the_lease(repo: ReportRepository):
    rid = await queued(repo)
    claim = await repo.claim(rid, LEASE_S)
    assert claim == ReportClaim(
        report_id=rid, user_id=USER, attempt=1, email_status="pending", has_document=False, recipient=EMAIL,
        recipient_name=NAME,
    )  # fmt: skip
    report = await repo.get(rid)
    assert report is not None
    assert (report.status, report.attempts, report.finished_at) == ("running", 1, None)
    assert report.started_at is not None
    assert report.deadline_at - report.started_at == timedelta(seconds=LEASE_S)
    assert await repo.claim(rid, LEASE_S) is None  # the lease is live


async def test_concurrent_claims_of_one_report_give_one_attempt(repo: ReportRepository):
    rid = await queued(repo)
    claims = await asyncio.gather(*(repo.claim(rid, LEASE_S) for _ in range(4)))
    assert [c.attempt for c in claims if c is not None] == [1]


async def test_a_lease_past_its_deadline_can_be_claimed_by_a_new_attempt(repo: ReportRepository):
    stale, fresh = await superseded(repo)
    assert (stale.attempt, fresh.attempt) == (1, 2)
    report = await repo.get(fresh.report_id)
    assert report is not None
    assert (report.status, report.attempts) == ("running", 2)


async def test_a_finished_report_cannot_be_claimed(repo: ReportRepository):
    for status in ("succeeded", "failed"):
        claim = await claimed(repo, lease_s=PASSED)  # even with its lease over
        assert await repo.finish(claim, status, None) is True
        assert await repo.claim(claim.report_id, LEASE_S) is None


# --- document ---------------------------------------------------------------------------------------
async def test_the_live_attempt_stores_the_document_and_a_later_claim_sees_it(repo: ReportRepository):
    claim = await claimed(repo, lease_s=PASSED)
    assert await repo.store_document(claim, b"%PDF-1 first") is True
    assert await repo.store_document(claim, b"%PDF-1 second") is True  # the same attempt may replace it
    assert await repo.document(claim.report_id) == b"%PDF-1 second"
    report = await repo.get(claim.report_id)
    assert report is not None
    assert report.has_document is True
    again = await repo.claim(claim.report_id, LEASE_S)
    assert again is not None
    assert again.has_document is True


# --- email status -----------------------------------------------------------------------------------
async def test_email_status_moves_only_from_the_expected_one(repo: ReportRepository):
    claim = await claimed(repo)
    assert await repo.set_email_status(claim, "sent", expected="sending") is False  # it is `pending`
    assert await repo.set_email_status(claim, "sending", expected="pending") is True
    assert await repo.set_email_status(claim, "sending", expected="pending") is False  # someone else got there
    assert await repo.set_email_status(claim, "pending", expected="sending") is True  # not sent: may retry
    assert await repo.set_email_status(claim, "sending", expected="pending") is True
    assert await repo.set_email_status(claim, "sent", expected="sending") is True
    report = await repo.get(claim.report_id)
    assert report is not None
    assert report.email_status == "sent"
    again = await repo.claim(claim.report_id, LEASE_S)
    assert again is None  # still held by `claim`
    assert await repo.finish(claim, "succeeded", None) is True


async def test_a_superseded_attempt_may_not_start_sending(repo: ReportRepository):
    stale, fresh = await superseded(repo)
    assert await repo.set_email_status(stale, "sending", expected="pending") is False
    report = await repo.get(stale.report_id)
    assert report is not None
    assert report.email_status == "pending"
    assert await repo.set_email_status(fresh, "sending", expected="pending") is True


async def test_the_outcome_of_a_handed_over_email_is_recorded_even_after_supersession(repo: ReportRepository):
    stale = await claimed(repo, lease_s=PASSED)
    assert await repo.set_email_status(stale, "sending", expected="pending") is True
    fresh = await repo.claim(stale.report_id, LEASE_S)
    assert fresh is not None
    assert fresh.email_status == "sending"  # the new attempt sees that an email may be out
    assert await repo.set_email_status(stale, "sent", expected="sending") is True
    report = await repo.get(stale.report_id)
    assert report is not None
    assert report.email_status == "sent"


# --- finish and release -------------------------------------------------------------------------------
async def test_finish_records_success_or_failure_with_its_reason(repo: ReportRepository):
    ok = await claimed(repo)
    assert await repo.finish(ok, "succeeded", None) is True
    bad = await claimed(repo)
    assert await repo.finish(bad, "failed", "no holdings to report") is True
    done, failed = await repo.get(ok.report_id), await repo.get(bad.report_id)
    assert done is not None
    assert failed is not None
    assert (done.status, done.error, done.attempts) == ("succeeded", None, 1)
    assert (failed.status, failed.error, failed.attempts) == ("failed", "no holdings to report", 1)
    assert done.finished_at is not None
    assert failed.finished_at is not None
    assert await repo.finish(ok, "failed", "twice") is False  # an attempt ends once
    assert await repo.release(ok, "too late", 60) is False
    assert await repo.store_document(ok, b"%PDF-1 late") is False


async def test_a_superseded_attempt_changes_nothing(repo: ReportRepository):
    stale, fresh = await superseded(repo)
    assert await repo.store_document(stale, b"%PDF-1 stale") is False
    assert await repo.finish(stale, "failed", "stale") is False
    assert await repo.release(stale, "stale", 60) is False
    assert await repo.set_email_status(stale, "pending", expected="pending") is False
    report = await repo.get(stale.report_id)
    assert report is not None
    assert (report.status, report.attempts, report.error, report.has_document) == ("running", 2, None, False)
    assert await repo.document(stale.report_id) is None
    assert await repo.finish(fresh, "succeeded", None) is True


async def test_release_queues_the_report_again_with_the_reason(repo: ReportRepository):
    claim = await claimed(repo)
    assert await repo.release(claim, "ConnectionError: broker away", 60) is True
    report = await repo.get(claim.report_id)
    assert report is not None
    assert report.started_at is not None
    assert (report.status, report.attempts, report.error) == ("queued", 1, "ConnectionError: broker away")
    assert report.deadline_at >= report.started_at + timedelta(seconds=60)
    assert await repo.finish(claim, "succeeded", None) is False  # the released attempt is over
    again = await repo.claim(claim.report_id, LEASE_S)
    assert again is not None
    assert again.attempt == 2


# --- requeue_stale ----------------------------------------------------------------------------------
async def test_requeue_stale_returns_reports_past_their_deadline_at_most_a_batch(repo: ReportRepository):
    oldest = [await queued(repo, AGES_AGO - 10 + i) for i in range(3)]  # deadlines in this order
    running = await claimed(repo, lease_s=AGES_AGO)
    live = await queued(repo, 60)
    held = await claimed(repo)
    first = await repo.requeue_stale(120, 2)
    assert sorted(first) == sorted(oldest[:2])  # the longest overdue first
    second = await repo.requeue_stale(120, 2)
    assert sorted(second) == sorted([oldest[2], running.report_id])
    for rid in oldest:
        report = await repo.get(rid)
        assert report is not None
        assert report.status == "queued"
        assert report.deadline_at >= report.created_at + timedelta(seconds=120)
    swept = await repo.get(running.report_id)
    assert swept is not None
    assert (swept.status, swept.attempts) == ("queued", 1)
    assert await repo.finish(running, "succeeded", None) is False  # its attempt is over
    untouched = [await repo.get(rid) for rid in (live, held.report_id)]
    assert [(r.status, r.attempts) for r in untouched if r is not None] == [("queued", 0), ("running", 1)]


async def test_concurrent_sweeps_return_each_stale_report_once(repo: ReportRepository):
    stale = {await queued(repo, AGES_AGO + i) for i in range(4)}
    batches = await asyncio.gather(*(repo.requeue_stale(120, 10) for _ in range(3)))
    returned = [rid for batch in batches for rid in batch]
    assert len(returned) == len(set(returned))
    assert stale <= set(returned)


# --- by_status ----------------------------------------------------------------------------------------
async def test_by_status_pages_newest_first(repo: ReportRepository):
    a, b, c = [await queued(repo) for _ in range(3)]
    page = await repo.by_status("queued", limit=2, cursor=None)
    assert [r.id for r in page.items] == [c, b]
    assert all(r.status == "queued" for r in page.items)
    assert page.next_cursor is not None
    assert await repo.claim(b, LEASE_S) is not None  # the cursor's report leaves `queued`: paging goes on
    rest = await repo.by_status("queued", limit=1, cursor=page.next_cursor)
    assert [r.id for r in rest.items] == [a]
    running = await repo.by_status("running", limit=1, cursor=None)
    assert [r.id for r in running.items] == [b]


async def test_by_status_walks_every_report_once_and_the_last_page_has_no_cursor(repo: ReportRepository):
    mine = [await queued(repo) for _ in range(5)]
    for rid in mine[1::2]:
        claim = await repo.claim(rid, LEASE_S)
        assert claim is not None
        await repo.finish(claim, "failed", "boom")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        page = await repo.by_status("failed", limit=1, cursor=cursor)
        assert len(page.items) <= 1
        seen += [r.id for r in page.items]
        if (cursor := page.next_cursor) is None:
            break
    else:
        pytest.fail("the pages never ended")
    assert len(seen) == len(set(seen))
    assert [rid for rid in seen if rid in mine] == [mine[3], mine[1]]


async def test_by_status_refuses_a_cursor_it_did_not_give_out(repo: ReportRepository):
    await queued(repo)
    with pytest.raises(InvalidRequestError):
        await repo.by_status("queued", limit=1, cursor="not-a-cursor")


# --- of_user ----------------------------------------------------------------------------------------
async def test_of_user_pages_one_users_reports_newest_first_in_any_status(repo: ReportRepository):
    mine = [await queued(repo, user=OTHER) for _ in range(3)]
    await queued(repo)  # another user's: never on these pages
    claim = await repo.claim(mine[1], LEASE_S)
    assert claim is not None
    await repo.finish(claim, "failed", "boom")
    page = await repo.of_user(OTHER, limit=2, cursor=None)
    assert [(r.id, r.status) for r in page.items] == [(mine[2], "queued"), (mine[1], "failed")]
    rest = await repo.of_user(OTHER, limit=1, cursor=page.next_cursor)
    assert [r.id for r in rest.items] == [mine[0]]
    with pytest.raises(InvalidRequestError):
        await repo.of_user(OTHER, limit=1, cursor="not-a-cursor")


async def test_of_user_is_an_empty_page_for_a_user_without_reports_and_refuses_an_unknown_user(repo: ReportRepository):
    page = await repo.of_user(QUIET, limit=10, cursor=None)
    assert (page.items, page.next_cursor) == ((), None)
    with pytest.raises(UserNotFoundError):
        await repo.of_user(NO_SUCH_USER, limit=10, cursor=None)
    with pytest.raises(InvalidRequestError):  # a cursor it did not give out, whoever is asked about
        await repo.of_user(NO_SUCH_USER, limit=10, cursor="not-a-cursor")


# --- requeue a dead letter --------------------------------------------------------------------------
async def test_requeue_failed_puts_a_dead_letter_back_with_fresh_attempts_and_audits_it(repo: ReportRepository):
    dead = await claimed(repo)
    assert await repo.finish(dead, "failed", "gave up after 1 attempts: mail server down") is True
    entry = AuditEntry(actor="operator:ada", action=REPORT_REQUEUE, target=dead.report_id, request_id="r1", change={})
    report = await repo.requeue_failed(dead.report_id, 60.0, audit=entry)
    assert (report.status, report.attempts, report.error, report.finished_at) == ("queued", 0, None, None)
    again = await repo.claim(dead.report_id, LEASE_S)
    assert again is not None
    assert again.attempt == 1  # the report gets every attempt again
    assert await repo.finish(again, "succeeded", None) is True


@pytest.mark.parametrize("status", ["queued", "running", "succeeded"])
async def test_requeue_failed_refuses_a_report_that_has_not_failed_and_an_unknown_one(
    repo: ReportRepository, status: str
):
    entry = AuditEntry(actor="operator:ada", action=REPORT_REQUEUE, target="x", request_id=None, change={})
    report_id = await queued(repo)
    if status != "queued":
        claim = await repo.claim(report_id, LEASE_S)
        assert claim is not None
        if status == "succeeded":
            assert await repo.finish(claim, "succeeded", None) is True
    with pytest.raises(ReportNotFailedError):
        await repo.requeue_failed(report_id, 60.0, audit=entry)
    after = await repo.get(report_id)
    assert after is not None
    assert after.status == status
    for unknown in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        with pytest.raises(ReportNotFoundError):
            await repo.requeue_failed(unknown, 60.0, audit=entry)
