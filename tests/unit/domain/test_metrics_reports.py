"""What report attempts and cache lookups leave in the metrics (the in-memory recorder)."""

from decimal import Decimal

import pytest

from domain.adapters.memory.fleet import FixedQueueBacklog
from domain.adapters.memory.holdings import InMemoryHoldingsCache, InMemoryHoldingsRepository
from domain.adapters.memory.metrics import InMemoryMetrics
from domain.adapters.memory.reports import InMemoryReportStatistics
from domain.errors import MailNotSentError
from domain.models.holdings import Holding
from domain.models.quotes import build_snapshot
from domain.services.portfolios import PortfolioService
from domain.services.reports.runner import ReportRetryError
from domain.services.telemetry import ReportTelemetry
from tests.unit.domain.test_reports import World


@pytest.fixture
def timed() -> tuple[World, InMemoryMetrics]:
    world = World()
    return world, world.metrics


async def test_a_finished_report_counts_once_with_its_time(timed):
    world, metrics = timed
    report = (await world.desk.request(7, None)).report
    assert await world.runner.run(report.id) == "succeeded"
    assert await world.runner.run(report.id) == "skipped"  # not an attempt: nothing recorded
    assert metrics.counts[("report", "succeeded")] == 1
    assert len(metrics.observed[("report",)]) == 1


async def test_a_retried_attempt_is_timed_but_not_completed(timed):
    world, metrics = timed
    report = (await world.desk.request(7, None)).report
    world.mailer.fail_with = MailNotSentError("refused")
    with pytest.raises(ReportRetryError):
        await world.runner.run(report.id)
    assert metrics.counts[("report", "retry")] == 1
    assert metrics.counts[("report", "succeeded")] + metrics.counts[("report", "failed")] == 0


async def test_report_gauges_are_sampled_from_the_rows_and_the_queue(timed):
    world, metrics = timed
    await world.desk.request(7, None)
    await world.desk.request(7, None)
    telemetry = ReportTelemetry(
        InMemoryReportStatistics(world.reports), FixedQueueBacklog(2, 3.5), metrics, interval_s=60
    )
    await telemetry.sample()
    assert metrics.gauges[("reports", "queued")] == 2
    assert metrics.gauges[("queue", "depth")] == 2
    assert metrics.gauges[("queue", "oldest_age_s")] == 3.5


async def test_cache_lookups_are_counted_as_hit_miss_or_error():
    repository = InMemoryHoldingsRepository()
    repository.add_user(1, Holding(instrument_id=1, quantity=Decimal(1), average_cost=Decimal(1)))
    cache = InMemoryHoldingsCache()
    metrics = InMemoryMetrics()
    snapshot = build_snapshot(1, {}, {}, "USD")
    service = PortfolioService(repository, lambda: snapshot, cache=cache, metrics=metrics)
    await service.holdings(1)  # miss: read from the repository, then cached
    await service.holdings(1)  # hit in the shared cache (no local level without a bus)
    cache.available = False
    await service.holdings(1)
    assert metrics.counts[("cache", "holdings", "miss")] == 1
    assert metrics.counts[("cache", "holdings", "hit")] == 1
    assert metrics.counts[("cache", "holdings", "error")] == 1
