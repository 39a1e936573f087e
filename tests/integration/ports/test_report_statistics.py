"""One contract for the report counts and the oldest queued report's wait, run against the in-memory twin and
the real PostgreSQL adapter.

The counts cover every report in the store, so each test measures how they move under its own writes
(the real side works in the contract suites' own database: nothing else writes reports there).
"""

import asyncio

import pytest

from domain.models.reports import ReportStatus
from tests.integration.ports.conftest import World

pytestmark = pytest.mark.integration
STATUSES: tuple[ReportStatus, ...] = ("queued", "running", "succeeded", "failed")


async def counts(world: World) -> dict[str, int]:
    found = await world.statistics.counts()
    assert set(found) <= set(STATUSES)
    assert all(n > 0 for n in found.values())  # a status without reports is absent, never 0
    return {status: found.get(status, 0) for status in STATUSES}


async def test_counts_follow_each_report_through_its_statuses(world: World):
    user = await world.user()
    before = await counts(world)
    ids = [(await world.reports.create(user, None, 60)).report.id for _ in range(5)]
    claims = [await world.reports.claim(rid, 300) for rid in ids[:3]]
    assert None not in claims
    ok, bad, _ = [c for c in claims if c is not None]
    assert await world.reports.finish(ok, "succeeded", None)
    assert await world.reports.finish(bad, "failed", "no holdings to report")
    after = await counts(world)
    moved = {status: after[status] - before[status] for status in STATUSES}
    assert moved == {"queued": 2, "running": 1, "succeeded": 1, "failed": 1}


async def test_a_repeated_request_is_counted_once(world: World):
    user = await world.user()
    before = await counts(world)
    for _ in range(3):
        await world.reports.create(user, "same-key", 60)
    after = await counts(world)
    assert after["queued"] - before["queued"] == 1


async def test_the_oldest_queued_report_ages_while_it_waits(world: World):
    user = await world.user()
    await world.reports.create(user, None, 60)
    first = await world.statistics.oldest_queued_age_s()
    assert first >= 0  # our report waits, or an older one does
    await asyncio.sleep(0.3)
    assert await world.statistics.oldest_queued_age_s() >= first + 0.25
