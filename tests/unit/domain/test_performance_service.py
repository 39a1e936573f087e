"""PerformanceService through the in-memory value history: the period it reads, and the figures it gives."""

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.performance import InMemoryValueHistory
from domain.errors import InvalidRequestError, UserNotFoundError
from domain.models.performance import DailyValue, ExternalFlow
from domain.services.performance import PerformanceService

USER = 7
TODAY = date(2026, 10, 30)


def value(d: date, v: str) -> DailyValue:
    return DailyValue(day=d, value=Decimal(v))


def flow(d: date, amount: str) -> ExternalFlow:
    return ExternalFlow(day=d, amount=Decimal(amount))


def near(x: float | None, expected: float) -> bool:
    return x is not None and math.isclose(x, expected, rel_tol=0, abs_tol=1e-9)


@pytest.fixture
def history() -> InMemoryValueHistory:
    return InMemoryValueHistory()


@pytest.fixture
def service(history: InMemoryValueHistory) -> PerformanceService:
    return PerformanceService(history, FixedClock(datetime(2026, 10, 30, 21, tzinfo=UTC)), risk_free_rate=0.02)


async def test_the_figures_of_the_hand_computed_fixture(history, service):
    # As in test_performance: returns +10 %, -10 %, +25 % with a deposit of 50 and a withdrawal of 20.
    d = [TODAY - timedelta(days=3 - i) for i in range(4)]
    history.record(USER, value(d[0], "100"), value(d[1], "110"), value(d[2], "144"), value(d[3], "155"),
                   flow(d[2], "50"), flow(d[3], "-20"))  # fmt: skip
    f = await service.figures(USER)
    assert (f.start, f.end, f.days) == (d[0], d[3], 4)
    assert near(f.time_weighted_return, 0.2375)
    assert near(f.volatility, math.sqrt(7.77))
    assert near(f.sharpe, 20.98 / math.sqrt(7.77))  # at the service's 2 % risk-free rate
    assert f.max_drawdown is not None
    assert (f.max_drawdown.peak, f.max_drawdown.trough) == (d[1], d[2])


async def test_by_default_the_year_up_to_today_and_only_what_lies_in_the_period(history, service):
    # Values 400 days ago and a flow before the year are outside; the year holds 100 -> 120 with 10 paid in.
    year_ago = TODAY - timedelta(days=365)
    history.record(USER, value(TODAY - timedelta(days=400), "1"), flow(TODAY - timedelta(days=380), "999"),
                   value(year_ago, "100"), value(TODAY, "120"), flow(TODAY - timedelta(days=100), "10"))  # fmt: skip
    f = await service.figures(USER)
    assert (f.start, f.end) == (year_ago, TODAY)
    assert near(f.time_weighted_return, 120 / 110 - 1)
    older = await service.figures(USER, since=TODAY - timedelta(days=400), until=year_ago)
    assert near(older.time_weighted_return, 100 / (1 + 999) - 1)  # the 999 paid in counts in that period


async def test_an_explicit_period(history, service):
    days = [TODAY - timedelta(days=10 - i) for i in range(11)]
    history.record(USER, *(value(d, str(100 + i)) for i, d in enumerate(days)))
    f = await service.figures(USER, since=days[2], until=days[5])
    assert (f.start, f.end, f.days) == (days[2], days[5], 4)
    assert near(f.time_weighted_return, 105 / 102 - 1)


async def test_a_user_without_history_has_no_figures_and_an_unknown_user_is_refused(history, service):
    history.add_user(USER)
    f = await service.figures(USER)
    assert (f.days, f.time_weighted_return, f.money_weighted_return, f.max_drawdown) == (0, None, None, None)
    with pytest.raises(UserNotFoundError):
        await service.figures(USER + 1)


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        (None, TODAY + timedelta(days=1), "until"),
        (TODAY, TODAY - timedelta(days=1), "since"),
        (TODAY - timedelta(days=3661), TODAY, "since"),
    ],
)
async def test_a_period_out_of_bounds_names_the_field(history, service, since, until, field):
    history.add_user(USER)
    with pytest.raises(InvalidRequestError) as raised:
        await service.figures(USER, since=since, until=until)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("period", "since"),
    [("1M", date(2026, 9, 30)), ("3M", date(2026, 7, 30)), ("YTD", date(2026, 1, 1)), ("1Y", date(2025, 10, 30))],
)
def test_named_periods_end_today(service, period, since):
    assert service.period_of(period) == (since, TODAY)


def test_a_month_back_from_the_31st_ends_on_the_shorter_months_last_day(history):
    clock = FixedClock(datetime(2026, 3, 31, 12, tzinfo=UTC))
    assert PerformanceService(history, clock, risk_free_rate=0).period_of("1M") == (
        date(2026, 2, 28),
        clock.now().date(),
    )


async def test_an_unknown_period_or_benchmark_is_refused_naming_the_field(history, service):
    history.add_user(USER)
    with pytest.raises(InvalidRequestError) as period:
        await service.report(USER, "2W")
    assert period.value.field == "period"
    with pytest.raises(InvalidRequestError) as bench:
        await service.report(USER, "1M", "NOPE")
    assert bench.value.field == "benchmark"


async def test_the_report_is_cached_until_the_history_changes_and_has_the_benchmarks_figures(history, service):
    d = [TODAY - timedelta(days=3 - i) for i in range(4)]
    history.record(USER, *(value(x, v) for x, v in zip(d, ["100", "110", "99", "120"], strict=True)))
    history.record_closes("IDX", *(value(x, v) for x, v in zip(d, ["10", "11", "12", "12"], strict=True)))
    first, hit = await service.report(USER, "1M", "IDX")
    assert not hit
    assert first.series == tuple(history.values[USER][x] for x in d)
    assert near(first.figures.time_weighted_return, 0.2)
    assert first.benchmark is not None
    assert near(first.benchmark.figures.time_weighted_return, 0.2)
    assert await service.report(USER, "1M", "IDX") == (first, True)
    history.record(USER, flow(d[3], "10"))
    again, hit = await service.report(USER, "1M", "IDX")
    assert not hit
    assert again is not first
    assert again.flows == (flow(d[3], "10"),)
    assert near(again.figures.time_weighted_return, 1.1 * 0.9 * 120 / 109 - 1)
