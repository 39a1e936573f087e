"""Performance figures against hand computations (to 1e-9), and the XIRR against numpy_financial."""

import math
import random
from datetime import date, timedelta
from decimal import Decimal

import numpy_financial as npf
import pytest

from domain.analytics.performance import performance
from domain.analytics.rates import internal_rate, xirr
from domain.models.performance import DailyValue, Drawdown, ExternalFlow

TOLERANCE = 1e-9
MON = date(2026, 3, 2)


def day(n: int, start: date = MON) -> date:
    return start + timedelta(days=n)


def values(*points: tuple[date, str]) -> list[DailyValue]:
    return [DailyValue(day=d, value=Decimal(v)) for d, v in points]


def flow(d: date, amount: str) -> ExternalFlow:
    return ExternalFlow(day=d, amount=Decimal(amount))


def near(x: float | None, expected: float) -> bool:
    return x is not None and math.isclose(x, expected, rel_tol=0, abs_tol=TOLERANCE)


# The fixture, by hand. Closing values 100, 110, 144, 155; a deposit of 50 on day 2, a withdrawal of 20 on day 3.
# A flow enters at the open, so the day's return is V_t / (V_{t-1} + F_t) - 1:
#   day 1: 110 / 100 - 1 = +0.10;  day 2: 144 / (110 + 50) - 1 = -0.10;  day 3: 155 / (144 - 20) - 1 = +0.25.
# TWR = 1.1 x 0.9 x 1.25 - 1 = 0.2375. Mean return 0.25 / 3 = 1/12; deviations 1/60, -11/60, 10/60:
# sample variance (1 + 121 + 100) / 3600 / 2 = 37/1200, so volatility = sqrt(37/1200 x 252) = sqrt(7.77).
# Sharpe at 2 %: (1/12 x 252 - 0.02) / sqrt(7.77) = 20.98 / sqrt(7.77).
# Growth index 1, 1.1, 0.99, 1.2375: the drawdown is 0.11 / 1.1 = 0.10 from day 1 to day 2, although the
# value itself only ever rose (the deposit hid the fall).
FIXTURE = values((day(0), "100"), (day(1), "110"), (day(2), "144"), (day(3), "155"))
FIXTURE_FLOWS = [flow(day(2), "50"), flow(day(3), "-20")]


def test_the_fixture_gives_each_figure_to_1e_9():
    f = performance(FIXTURE, FIXTURE_FLOWS, risk_free_rate=0.02)
    assert (f.start, f.end, f.days) == (day(0), day(3), 4)
    assert near(f.time_weighted_return, 0.2375)
    assert near(f.volatility, math.sqrt(7.77))
    assert near(f.sharpe, 20.98 / math.sqrt(7.77))
    assert f.max_drawdown is not None
    assert near(f.max_drawdown.depth, 0.10)
    assert (f.max_drawdown.peak, f.max_drawdown.trough) == (day(1), day(2))


def test_the_money_weighted_return_of_the_fixture_zeroes_the_owners_net_present_value():
    f = performance(FIXTURE, FIXTURE_FLOWS, risk_free_rate=0.0)
    r = f.money_weighted_return
    assert r is not None
    owner = [(0, -100), (2, -50), (3, 20), (3, 155)]
    assert abs(sum(a / (1 + r) ** (d / 365) for d, a in owner)) < 1e-9


def test_year_apart_values_give_twr_and_xirr_by_hand():
    # 2021-01-01, 2022-01-01, 2023-01-01 are 365 days apart. 100 grows to 110; 50 is paid in on the second
    # day (value 160); 160 grows to 176. The owner paid 100 then 50 and holds 176: at 10 %, 100 x 1.21 +
    # 50 x 1.1 = 176, so the XIRR is 0.10. TWR: 160 / 150 x 176 / 160 - 1 = 176 / 150 - 1 = 0.17333...
    series = values((date(2021, 1, 1), "100"), (date(2022, 1, 1), "160"), (date(2023, 1, 1), "176"))
    f = performance(series, [flow(date(2022, 1, 1), "50")], risk_free_rate=0.0)
    assert near(f.money_weighted_return, 0.10)
    assert near(f.time_weighted_return, 176 / 150 - 1)


def test_xirr_of_dated_flows_by_hand_and_a_published_example():
    assert near(xirr([(date(2021, 1, 1), -100.0), (date(2022, 1, 1), -50.0), (date(2023, 1, 1), 176.0)]), 0.10)
    # A loss over 30 days: (1 + r) ** (30 / 365) = 0.9.
    assert near(xirr([(day(0), -100.0), (day(30), 90.0)]), 0.9 ** (365 / 30) - 1)
    # The spreadsheet XIRR documentation's example: 0.373362535, which that solver stops at to about 1e-8;
    # ours is exact, its net present value zero to a billionth of the amounts.
    example = [(date(2008, 1, 1), -10000.0), (date(2008, 3, 1), 2750.0), (date(2008, 10, 30), 4250.0),
               (date(2009, 2, 15), 3250.0), (date(2009, 4, 1), 2750.0)]  # fmt: skip
    r = xirr(example)
    assert r == pytest.approx(0.373362535, abs=1e-8)
    assert abs(sum(a / (1 + r) ** ((d - example[0][0]).days / 365) for d, a in example)) < 1e-9 * 10000


def test_xirr_is_robust_to_extreme_rates():
    doubled = xirr([(day(0), -100.0), (day(10), 200.0)])  # doubling in 10 days: about 1e11 a year
    assert doubled == pytest.approx(2 ** (365 / 10) - 1, rel=TOLERANCE)
    halved = xirr([(day(0), -100.0), (day(3), 50.0)])  # halving in 3 days: all but -100 %
    assert halved is not None
    assert -1 <= halved < -0.999999


def test_with_two_rates_xirr_takes_the_one_nearest_zero():
    # -100, +230, -132 a year apart: the NPV is zero at 10 % and at 20 % (100 x 1.1 x 1.2 = 132).
    flows = [(date(2021, 1, 1), -100.0), (date(2022, 1, 1), 230.0), (date(2023, 1, 1), -132.0)]
    assert near(xirr(flows), 0.10)


def test_xirr_has_no_answer_without_money_both_ways():
    assert xirr([]) is None
    assert xirr([(day(0), -100.0), (day(1), -5.0)]) is None
    assert xirr([(day(0), 100.0), (day(1), 5.0)]) is None


@pytest.mark.parametrize("seed", range(20))
def test_xirr_matches_numpy_financial_irr_on_yearly_flows(seed: int):
    # Flows 365 days apart are whole years apart, so the XIRR is the periodic IRR numpy_financial solves
    # (by polynomial roots: an independent method). One change of sign: exactly one rate.
    rng = random.Random(seed)
    amounts = [-rng.uniform(100, 1000) for _ in range(rng.randint(1, 4))]
    amounts += [rng.uniform(0, 800) for _ in range(rng.randint(1, 6))]
    ours = xirr([(day(365 * i), a) for i, a in enumerate(amounts)])
    assert ours == pytest.approx(float(npf.irr(amounts)), abs=TOLERANCE)


@pytest.mark.parametrize("seed", range(10))
def test_internal_rate_matches_numpy_financial_irr_on_monthly_flows(seed: int):
    rng = random.Random(1000 + seed)
    amounts = [-rng.uniform(500, 5000)] + [rng.uniform(10, 400) for _ in range(rng.randint(6, 36))]
    monthly = float(npf.irr(amounts))
    annual = internal_rate([(i / 12, a) for i, a in enumerate(amounts)])
    assert annual == pytest.approx((1 + monthly) ** 12 - 1, abs=TOLERANCE)
    assert float(npf.npv(monthly, amounts)) == pytest.approx(0, abs=1e-6)


def test_flows_count_on_the_next_valuation_day_and_only_inside_the_period():
    # Friday 100, Monday 150 after a Saturday deposit of 40 (Monday's return: 150 / 140 - 1).
    fri, sat, mon = date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 9)
    series = values((fri, "100"), (mon, "150"))
    outside = [flow(fri - timedelta(days=3), "1000"), flow(fri, "100"), flow(mon + timedelta(days=1), "-70")]
    f = performance(series, [flow(sat, "40"), *outside], risk_free_rate=0.0)
    assert near(f.time_weighted_return, 150 / 140 - 1)
    r = f.money_weighted_return
    assert r is not None
    owner = [(0, -100), (1, -40), (3, 150)]
    assert abs(sum(a / (1 + r) ** (d / 365) for d, a in owner)) < 1e-9


def test_a_day_with_nothing_at_risk_has_no_return_and_leaves_the_index_flat():
    # Everything withdrawn on day 1 (value 0), 50 paid in on day 2 that closes at 55: one return, +10 %.
    series = values((day(0), "100"), (day(1), "0"), (day(2), "55"))
    f = performance(series, [flow(day(1), "-100"), flow(day(2), "50")], risk_free_rate=0.0)
    assert near(f.time_weighted_return, 0.10)
    assert f.volatility is None  # one return has no sample deviation
    assert f.sharpe is None
    assert f.max_drawdown == Drawdown(depth=0.0, peak=day(0), trough=day(0))


def test_short_or_flat_series_say_none_where_a_figure_needs_more():
    empty = performance([], [], risk_free_rate=0.04)
    assert (empty.start, empty.days, empty.time_weighted_return, empty.money_weighted_return) == (None, 0, None, None)
    assert (empty.volatility, empty.sharpe, empty.max_drawdown) == (None, None, None)
    one = performance(values((day(0), "100")), [], risk_free_rate=0.04)
    assert (one.time_weighted_return, one.money_weighted_return, one.max_drawdown) == (None, None, None)
    flat = performance(values(*[(day(i), "100") for i in range(5)]), [], risk_free_rate=0.04)
    assert near(flat.time_weighted_return, 0.0)
    assert near(flat.money_weighted_return, 0.0)
    assert flat.volatility == 0
    assert flat.sharpe is None  # no risk, no ratio


def test_the_drawdown_is_the_largest_fall_from_a_running_peak_with_its_days():
    series = values(*[(day(i), v) for i, v in enumerate(["100", "120", "90", "130", "65", "140"])])
    f = performance(series, [], risk_free_rate=0.0)
    assert f.max_drawdown is not None
    assert near(f.max_drawdown.depth, 0.5)
    assert (f.max_drawdown.peak, f.max_drawdown.trough) == (day(3), day(4))


def test_the_order_of_the_series_does_not_matter():
    shuffled = [FIXTURE[2], FIXTURE[0], FIXTURE[3], FIXTURE[1]]
    assert performance(shuffled, FIXTURE_FLOWS, risk_free_rate=0.02) == performance(
        FIXTURE, FIXTURE_FLOWS, risk_free_rate=0.02
    )


def random_walk(rng: random.Random, days: int, start: date = MON) -> list[DailyValue]:
    level, out = 1000.0, []
    for i in range(days):
        level *= 1 + rng.gauss(0.0005, 0.02)
        out.append(DailyValue(day=start + timedelta(days=i), value=Decimal(f"{level:.2f}")))
    return out


@pytest.mark.parametrize("seed", range(10))
def test_without_flows_the_twr_is_the_value_ratio_and_a_years_xirr_equals_it(seed: int):
    rng = random.Random(seed)
    series = random_walk(rng, 366)  # 366 days: the first and the last are 365 days apart
    f = performance(series, [], risk_free_rate=0.0)
    ratio = float(series[-1].value) / float(series[0].value) - 1
    assert f.time_weighted_return == pytest.approx(ratio, rel=TOLERANCE)
    assert f.money_weighted_return == pytest.approx(ratio, rel=TOLERANCE)


@pytest.mark.parametrize("seed", range(10))
def test_figures_do_not_depend_on_the_size_of_the_portfolio(seed: int):
    rng = random.Random(100 + seed)
    series = random_walk(rng, 60)
    flows = [flow(series[i].day, f"{rng.uniform(-200, 400):.2f}") for i in sorted(rng.sample(range(1, 60), 5))]
    scale = Decimal(rng.choice(["0.001", "7", "12345"]))
    scaled_series = [DailyValue(day=p.day, value=p.value * scale) for p in series]
    scaled_flows = [ExternalFlow(day=f.day, amount=f.amount * scale) for f in flows]
    bigger = performance(scaled_series, scaled_flows, risk_free_rate=0.03)
    base = performance(series, flows, risk_free_rate=0.03)
    for name in ("time_weighted_return", "money_weighted_return", "volatility", "sharpe"):
        assert getattr(bigger, name) == pytest.approx(getattr(base, name), rel=TOLERANCE), name
    assert bigger.max_drawdown is not None
    assert base.max_drawdown is not None
    assert bigger.max_drawdown.depth == pytest.approx(base.max_drawdown.depth, rel=TOLERANCE)
    assert (bigger.max_drawdown.peak, bigger.max_drawdown.trough) == (base.max_drawdown.peak, base.max_drawdown.trough)
