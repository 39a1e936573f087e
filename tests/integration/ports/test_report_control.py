"""One contract for report control (dead letters by filter, batch requeue, cancel, pause), run against the
in-memory twin and PostgreSQL. Each test's failures carry a reason of its own, so the filters find only them
in a database other tests also write to."""

import uuid
from collections.abc import AsyncIterator

import pytest

from domain.adapters.memory.report_control import InMemoryReportControl
from domain.adapters.memory.reports import InMemoryReportRepository
from domain.adapters.postgres.pool import Pool
from domain.adapters.postgres.report_control import PostgresReportControl
from domain.adapters.postgres.reports import PostgresReportRepository
from domain.errors import ReportNotCancellableError, ReportNotFoundError
from domain.models.audit import REPORT_CANCEL, REPORT_REQUEUE, REPORTS_PAUSE, REPORTS_RESUME, AuditEntry
from domain.models.reports import DeadLetterFilter
from domain.ports.report_control import ReportControl
from domain.ports.reports import ReportRepository
from tests.integration.ports.test_report_repository import LEASE_S, PEOPLE, claimed, pool, queued

__all__ = ["pool"]  # the module-scoped pool and its users, shared with the repository's contract
pytestmark = pytest.mark.integration


def entry(action: str) -> AuditEntry:
    return AuditEntry(actor="operator:ada", action=action, target="reports", request_id="r1", change={})


@pytest.fixture(params=["memory", "postgres"])
def pair(request: pytest.FixtureRequest, pool: Pool) -> tuple[ReportRepository, ReportControl]:
    if request.param == "memory":
        memory = InMemoryReportRepository({uid: (email, name) for uid, email, name in PEOPLE})
        return memory, InMemoryReportControl(memory)
    return PostgresReportRepository(pool), PostgresReportControl(pool)


async def dead(repo: ReportRepository, reason: str) -> str:
    claim = await claimed(repo)
    assert await repo.finish(claim, "failed", reason) is True
    return claim.report_id


async def test_dead_letters_are_found_by_reason_in_any_case_and_by_age(pair):
    repo, control = pair
    tag = uuid.uuid4().hex
    smtp = [await dead(repo, f"gave up: SMTP refused {tag}") for _ in range(2)]
    other = await dead(repo, f"gave up: renderer crashed {tag}")
    found = await control.dead_letters(DeadLetterFilter(reason=f"smtp REFUSED {tag}"), limit=10)
    assert sorted(r.id for r in found) == sorted(smtp)
    assert {r.status for r in found} == {"failed"}
    every = await control.dead_letters(DeadLetterFilter(reason=tag, older_than_s=0), limit=10)
    assert sorted(r.id for r in every) == sorted([*smtp, other])
    assert await control.dead_letters(DeadLetterFilter(reason=tag, older_than_s=3600), limit=10) == ()
    assert len(await control.dead_letters(DeadLetterFilter(reason=tag), limit=2)) == 2
    assert await control.dead_letters(DeadLetterFilter(reason=f"100% {tag}"), limit=10) == ()  # text, not a pattern


async def test_requeue_matching_requeues_only_the_matching_dead_letters_each_audited(pair):
    repo, control = pair
    tag = uuid.uuid4().hex
    smtp = [await dead(repo, f"SMTP refused {tag}") for _ in range(3)]
    other = await dead(repo, f"renderer crashed {tag}")
    done = await control.requeue_matching(DeadLetterFilter(reason=f"smtp refused {tag}"), 60.0, limit=2,
                                          audit=entry(REPORT_REQUEUE))  # fmt: skip
    assert len(done) == 2
    assert {r.status for r in done} == {"queued"}
    assert {r.attempts for r in done} == {0}
    rest = await control.requeue_matching(DeadLetterFilter(reason=f"SMTP refused {tag}"), 60.0, limit=10,
                                          audit=entry(REPORT_REQUEUE))  # fmt: skip
    assert sorted(r.id for r in [*done, *rest]) == sorted(smtp)
    untouched = await repo.get(other)
    assert untouched is not None
    assert untouched.status == "failed"
    again = await repo.claim(smtp[0], LEASE_S)
    assert again is not None
    assert again.attempt == 1


async def test_cancel_ends_a_queued_report_or_a_dead_letter_and_nothing_else(pair):
    repo, control = pair
    waiting = await queued(repo)
    cancelled = await control.cancel(waiting, audit=entry(REPORT_CANCEL))
    assert (cancelled.status, cancelled.finished_at is not None) == ("cancelled", True)
    assert await repo.claim(waiting, LEASE_S) is None  # the worker finds nothing to do
    failed = await dead(repo, "gave up")
    gone = await control.cancel(failed, audit=entry(REPORT_CANCEL))
    assert (gone.status, gone.error) == ("cancelled", "gave up")
    running = await claimed(repo)
    for report_id in (running.report_id, waiting):
        with pytest.raises(ReportNotCancellableError):
            await control.cancel(report_id, audit=entry(REPORT_CANCEL))
    with pytest.raises(ReportNotFoundError):
        await control.cancel(str(uuid.uuid4()), audit=entry(REPORT_CANCEL))
    with pytest.raises(ReportNotFoundError):
        await control.cancel("not-a-report", audit=entry(REPORT_CANCEL))


@pytest.fixture
async def resumed(pair) -> AsyncIterator[tuple[ReportRepository, ReportControl]]:
    yield pair
    await pair[1].set_pause(False, audit=entry(REPORTS_RESUME))  # never leave the shared database paused


async def test_a_pause_holds_until_resumed_and_pausing_twice_keeps_the_first(resumed):
    _, control = resumed
    assert await control.pause() is None
    first = await control.set_pause(True, audit=entry(REPORTS_PAUSE))
    assert first is not None
    assert first.paused_by == "operator:ada"
    second = await control.set_pause(True, audit=AuditEntry(actor="operator:bob", action=REPORTS_PAUSE,
                                                            target="reports", request_id=None, change={}))  # fmt: skip
    assert second == first
    assert await control.pause() == first
    assert await control.set_pause(False, audit=entry(REPORTS_RESUME)) is None
    assert await control.pause() is None
