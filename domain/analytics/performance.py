"""Performance figures of a portfolio from its daily values and the owner's external cash flows.

Money arrives as `Decimal`; the figures are ratios, computed in binary floats. Why floats: they need
square roots, logarithms and powers of fractional exponents (a volatility, an XIRR), which no
`Decimal` context makes exact either, and a float's ~1e-16 relative precision is far below the 1e-9
a figure is checked to (sums use `math.fsum`, which does not lose digits to cancellation).

Conventions, so a reader can recompute every figure by hand:
* A flow enters at the open of its valuation day and is in that day's closing value, so the day's
  return is r_t = V_t / (V_{t-1} + F_t) - 1 (F_t: the day's net deposits, withdrawals negative). A
  flow on a day without a value counts on the next valuation day; one on or before the first day is
  already in the first value; one after the last day is outside the period. A day with nothing at
  risk (V_{t-1} + F_t <= 0) has no return and leaves the index flat.
* Time-weighted return (TWR) = prod(1 + r_t) - 1, over the whole period (not annualised): what one
  unit held from the first day to the last became, whatever the owner paid in or took out.
* Money-weighted return = the XIRR of the owner's flows: -V_0 on the first day, -F on each flow's
  own day, +V_n on the last day (see `domain.analytics.rates`).
* Volatility = sample stdev(r) x sqrt(252). Sharpe = (mean(r) x 252 - risk-free rate) / volatility.
* Maximum drawdown = the largest fall of the growth index (1 on the first day, x (1 + r_t) each day)
  from its running peak, as a fraction of that peak, with the peak's and the trough's days. It is
  measured on the index, not the value, so a withdrawal is not a fall. No fall: depth 0, both days
  the first.
"""

import bisect
import math
from collections.abc import Sequence
from datetime import date

import msgspec

from domain.analytics.rates import xirr
from domain.models.performance import DailyValue, Drawdown, ExternalFlow, PerformanceFigures

TRADING_DAYS_PER_YEAR = 252


def performance(
    series: Sequence[DailyValue], flows: Sequence[ExternalFlow], *, risk_free_rate: float
) -> PerformanceFigures:
    """Every figure over the series (distinct days, any order) and the flows within it.

    One pass over the days for the returns, the growth index and its drawdown (the same float operations, in
    the same order, as `daily_returns`, `growth_index` and `max_drawdown`, so the same figures to the bit): every
    user's periods are computed at each fill, and an answer not stored is computed on the request.
    """
    figures, observed = _figures(series, flows)
    vol = figures.volatility
    return msgspec.structs.replace(figures, sharpe=sharpe(observed, vol, risk_free_rate))


def stored_figures(
    series: Sequence[DailyValue], flows: Sequence[ExternalFlow]
) -> tuple[PerformanceFigures, float | None]:
    """The figures as stored ahead of a read, without the Sharpe ratio, and the annualised mean daily return it
    is computed from (None where it is None): `with_sharpe` completes them for a risk-free rate."""
    figures, observed = _figures(series, flows)
    return figures, annual_mean(observed) if figures.volatility else None


def with_sharpe(figures: PerformanceFigures, mean: float | None, risk_free_rate: float) -> PerformanceFigures:
    """`figures` with the Sharpe ratio of `mean` (see `stored_figures`): the same as `sharpe` computes."""
    vol = figures.volatility
    ratio = None if mean is None or vol is None or vol == 0 else (mean - risk_free_rate) / vol
    return msgspec.structs.replace(figures, sharpe=ratio)


def _figures(series: Sequence[DailyValue], flows: Sequence[ExternalFlow]) -> tuple[PerformanceFigures, list[float]]:
    """Every figure but the Sharpe ratio, and the observed daily returns."""
    ordered = sorted(series, key=_day)
    days = [p.day for p in ordered]
    if len(days) < 2:
        return _short(days), []
    net = flows_on_valuation_days(days, flows)
    observed: list[float] = []
    level = peak = 1.0
    peak_day = days[0]
    worst = Drawdown(depth=0.0, peak=peak_day, trough=peak_day)
    previous = float(ordered[0].value)
    for t in range(1, len(days)):
        value = float(ordered[t].value)
        at_risk = previous + net[t]
        previous = value
        if at_risk > 0:
            r = value / at_risk - 1
            observed.append(r)
            level = level * (1 + r)
            if level > peak:
                peak, peak_day = level, days[t]
        depth = (peak - level) / peak if peak > 0 else 0.0
        if depth > worst.depth:
            worst = Drawdown(depth=depth, peak=peak_day, trough=days[t])
    figures = PerformanceFigures(
        start=days[0],
        end=days[-1],
        days=len(days),
        time_weighted_return=level - 1 if observed else None,
        money_weighted_return=xirr(owner_flows(ordered, flows)),
        volatility=volatility(observed),
        sharpe=None,
        max_drawdown=worst if observed else None,
    )
    return figures, observed


def _day(point: DailyValue) -> date:
    return point.day


def _short(days: list[date]) -> PerformanceFigures:
    """The figures of fewer than two days: none but the days."""
    return PerformanceFigures(
        start=days[0] if days else None,
        end=days[-1] if days else None,
        days=len(days),
        time_weighted_return=None,
        money_weighted_return=None,
        volatility=None,
        sharpe=None,
        max_drawdown=None,
    )


def flows_on_valuation_days(days: Sequence[date], flows: Sequence[ExternalFlow]) -> list[float]:
    """Each valuation day's net flow: a flow counts on the first valuation day on or after its own."""
    net = [0.0] * len(days)
    for flow in flows:
        i = bisect.bisect_left(days, flow.day)
        if 0 < i < len(days):  # on/before the first day it is in V_0; after the last, outside the period
            net[i] += float(flow.amount)
    return net


def daily_returns(values: Sequence[float], flows: Sequence[float] = ()) -> list[float | None]:
    """r_t = V_t / (V_{t-1} + F_t) - 1 for t = 1..n-1; None on a day with nothing at risk."""
    out: list[float | None] = []
    for t in range(1, len(values)):
        at_risk = values[t - 1] + (flows[t] if flows else 0.0)
        out.append(values[t] / at_risk - 1 if at_risk > 0 else None)
    return out


def growth_index(returns: Sequence[float | None]) -> list[float]:
    """What 1 unit on the first day became on each day (chain-linked; flat on days without a return)."""
    index = [1.0]
    for r in returns:
        index.append(index[-1] * (1 + r) if r is not None else index[-1])
    return index


def time_weighted_return(returns: Sequence[float | None]) -> float | None:
    """prod(1 + r_t) - 1; None without any return."""
    if all(r is None for r in returns):
        return None
    return growth_index(returns)[-1] - 1


def owner_flows(series: Sequence[DailyValue], flows: Sequence[ExternalFlow]) -> list[tuple[date, float]]:
    """The owner's side of the period, for the XIRR: the start value paid in, flows, the end value taken out."""
    first, last = series[0], series[-1]
    within = [(f.day, -float(f.amount)) for f in flows if first.day < f.day <= last.day]
    return [(first.day, -float(first.value)), *within, (last.day, float(last.value))]


def volatility(returns: Sequence[float]) -> float | None:
    """Annualised sample deviation of daily returns; None under two returns."""
    n = len(returns)
    if n < 2:
        return None
    if max(returns) == min(returns):
        return 0.0  # exactly, as the compensated sums below could leave a residue of the mean's rounding
    # Two passes with exact sums (the second term corrects the mean's rounding): as accurate as
    # `statistics.stdev` to far below the figures' 1e-9, and a fifth of its cost (it sums exact fractions).
    mean = math.fsum(returns) / n
    deviations = [r - mean for r in returns]
    variance = (math.fsum(d * d for d in deviations) - math.fsum(deviations) ** 2 / n) / (n - 1)
    return math.sqrt(max(variance, 0.0)) * math.sqrt(TRADING_DAYS_PER_YEAR)


def sharpe(returns: Sequence[float], vol: float | None, risk_free_rate: float) -> float | None:
    """Annualised mean excess return per unit of volatility; None without a volatility (or a zero one)."""
    if vol is None or vol == 0:
        return None
    return (annual_mean(returns) - risk_free_rate) / vol


def annual_mean(returns: Sequence[float]) -> float:
    """The mean daily return x 252 (not compounded), as the Sharpe ratio takes it."""
    return math.fsum(returns) / len(returns) * TRADING_DAYS_PER_YEAR


def max_drawdown(days: Sequence[date], index: Sequence[float]) -> Drawdown | None:
    """The largest fall of `index` from a running peak, with the days; None under two points."""
    if len(index) < 2:
        return None
    peak, peak_day = index[0], days[0]
    worst = Drawdown(depth=0.0, peak=days[0], trough=days[0])
    for day, level in zip(days, index, strict=True):
        if level > peak:
            peak, peak_day = level, day
        depth = (peak - level) / peak if peak > 0 else 0.0
        if depth > worst.depth:
            worst = Drawdown(depth=depth, peak=peak_day, trough=day)
    return worst
