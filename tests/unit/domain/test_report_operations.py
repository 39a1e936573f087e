"""Operators' report operations on the in-memory twins: a pause holds reports queued and loses none, a resume
sends them again, a batch requeue wakes a worker for each report it puts back."""

import msgspec

from domain.adapters.memory.report_control import InMemoryReportControl
from domain.models.audit import REPORT_REQUEUE, REPORTS_PAUSE, REPORTS_RESUME, Actor
from domain.models.reports import DeadLetterFilter
from domain.services.reports.operations import ReportOperations
from domain.services.reports.runner import ReportRunner
from tests.unit.domain.test_reports import POLICY, World, world

__all__ = ["world"]
ADA = Actor(name="operator:ada", request_id=None)


def operations(w: World) -> tuple[ReportOperations, ReportRunner]:
    control = InMemoryReportControl(w.reports)
    runner = ReportRunner(w.reports, w.queue, w.tools, POLICY, paused=control.pause)
    return ReportOperations(control, w.reports, w.queue, POLICY), runner


async def test_a_paused_worker_leaves_reports_queued_and_resuming_sends_them_again(world):
    ops, runner = operations(world)
    await ops.set_paused(True, caller=ADA)
    first = (await world.desk.request(7, None)).report.id
    assert await runner.run(first) == "paused"
    held = await world.reports.get(first)
    assert held is not None
    assert (held.status, held.attempts) == ("queued", 0)
    assert world.mailer.sent == []
    world.queue.sent.clear()
    await ops.set_paused(False, caller=ADA)
    assert world.queue.sent == [first]  # resumed: the held report is sent again at once
    assert await runner.run(first) == "succeeded"
    assert len(world.mailer.sent) == 1
    actions = [e.action for e in world.reports.audit.records]
    assert actions == [REPORTS_PAUSE, REPORTS_RESUME]
    assert {e.actor for e in world.reports.audit.records} == {"operator:ada"}


async def test_a_batch_requeue_puts_back_the_matching_dead_letters_and_wakes_a_worker_for_each(world):
    ops, _ = operations(world)
    ids = [(await world.desk.request(7, None)).report.id for _ in range(3)]
    for rid, reason in zip(ids, ("SMTP refused", "smtp refused again", "renderer crashed"), strict=True):
        world.reports.rows[rid] = msgspec.structs.replace(world.reports.rows[rid], status="failed", error=reason)
    world.queue.sent.clear()
    done = await ops.requeue_matching(DeadLetterFilter(reason="SMTP"), caller=ADA)
    assert sorted(r.id for r in done) == sorted(ids[:2])
    assert sorted(world.queue.sent) == sorted(ids[:2])
    assert [e.action for e in world.reports.audit.records] == [REPORT_REQUEUE, REPORT_REQUEUE]
