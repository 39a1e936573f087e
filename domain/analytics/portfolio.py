"""Portfolio analytics for reports: pure functions over current holdings and a year of daily closes.

Money (value, cost, P&L) stays `Decimal`; the daily series and the statistics on it are floats.
Pure Python (stdlib `statistics`/`math`): 30 holdings x 252 days is ~7,600 multiply-adds, measured
well under the 20 ms budget (see `make bench` / README), so numpy would buy nothing here.

Conventions, so a reader can recompute every figure by hand:
* A holding is worth quantity x price x fx_to_base (today's price and today's FX rate).
* The daily series uses each instrument's close on each day of the calendar (the union of the days
  any holding has a close, the last `days` of them). A missing day carries the previous close
  forward; days before an instrument's first close use that first close. Today's FX rate applies
  to the whole series (no FX history is kept). An instrument without closes is flat at its price.
* Returns, volatility, Sharpe and drawdown are `domain.analytics.performance`'s, with no external
  flows (the series values today's holdings): r_t = v_t / v_{t-1} - 1, volatility = sample stdev(r)
  x sqrt(252), Sharpe = (mean(r) x 252 - risk-free rate) / volatility.
* 1M / 3M / 1Y returns are time-weighted over the last 21 / 63 / 251 daily moves (without flows: the
  last value over the one that many trading days earlier, less 1); YTD is over the moves since the last
  value of the previous calendar year. None when the series is short.
* Max drawdown = the largest fall from a running peak, as a positive fraction of that peak, with
  the days of that peak and of the trough.
* Herfindahl = sum of squared weights of the holdings by value (1/n for n equal holdings, 1 for one).
"""

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from domain.analytics.performance import (
    TRADING_DAYS_PER_YEAR,
    daily_returns,
    growth_index,
    max_drawdown,
    sharpe,
    time_weighted_return,
    volatility,
)
from domain.models.reports import Allocation, PortfolioAnalytics, ReportHolding, TopHolding, ValuePoint

ONE_MONTH = 21
THREE_MONTHS = 63
ONE_YEAR = TRADING_DAYS_PER_YEAR - 1  # 252 closes span 251 daily moves
TOP_HOLDINGS = 10
CENT = Decimal("0.01")
ZERO = Decimal(0)


def analyse(
    holdings: Sequence[ReportHolding],
    *,
    base_currency: str,
    risk_free_rate: float,
    days: int = TRADING_DAYS_PER_YEAR,
    top: int = TOP_HOLDINGS,
) -> PortfolioAnalytics:
    """Every figure of a report, from the user's holdings and their closes."""
    values = [h.quantity * h.price * h.fx_to_base for h in holdings]
    costs = [h.quantity * h.average_cost * h.fx_to_base for h in holdings]
    total = sum(values, ZERO)
    cost = sum(costs, ZERO)
    pnl = total - cost
    series = value_series(holdings, days)
    points = [p.value for p in series]
    returns = daily_returns(points)  # no external flows: the series is today's holdings at past closes
    observed = [r for r in returns if r is not None]
    vol = volatility(observed)
    drawdown = max_drawdown([p.day for p in series], growth_index(returns))
    as_of = series[-1].day if series else None
    return PortfolioAnalytics(
        base_currency=base_currency,
        as_of=as_of,
        holdings_count=len(holdings),
        total_value=total.quantize(CENT),
        cost_basis=cost.quantize(CENT),
        unrealized_pnl=pnl.quantize(CENT),
        unrealized_pnl_pct=float(pnl / cost) if cost else None,
        by_asset_class=allocation(((h.asset_class, v) for h, v in zip(holdings, values, strict=True)), total),
        by_currency=allocation(((h.currency, v) for h, v in zip(holdings, values, strict=True)), total),
        top_holdings=top_holdings(holdings, values, total, top),
        series=series,
        return_1m=period_return(points, ONE_MONTH),
        return_3m=period_return(points, THREE_MONTHS),
        return_ytd=year_to_date(series),
        return_1y=period_return(points, ONE_YEAR),
        volatility=vol,
        sharpe=sharpe(observed, vol, risk_free_rate),
        max_drawdown=drawdown.depth if drawdown else None,
        drawdown_peak=drawdown.peak if drawdown else None,
        drawdown_trough=drawdown.trough if drawdown else None,
        herfindahl=herfindahl(values, total),
    )


def allocation(pairs: Iterable[tuple[str, Decimal]], total: Decimal) -> tuple[Allocation, ...]:
    """Values summed by key, largest first, with each key's fraction of `total`."""
    sums: dict[str, Decimal] = {}
    for key, value in pairs:
        sums[key] = sums.get(key, ZERO) + value
    ordered = sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(
        Allocation(key=k, value=v.quantize(CENT), weight=float(v / total) if total else 0.0) for k, v in ordered
    )


def top_holdings(
    holdings: Sequence[ReportHolding], values: Sequence[Decimal], total: Decimal, top: int
) -> tuple[TopHolding, ...]:
    ranked = sorted(zip(holdings, values, strict=True), key=lambda hv: (-hv[1], hv[0].symbol))[:top]
    return tuple(
        TopHolding(
            symbol=h.symbol,
            name=h.name,
            asset_class=h.asset_class,
            value=v.quantize(CENT),
            unrealized_pnl=(v - h.quantity * h.average_cost * h.fx_to_base).quantize(CENT),
            weight=float(v / total) if total else 0.0,
        )
        for h, v in ranked
    )


def value_series(holdings: Sequence[ReportHolding], days: int) -> tuple[ValuePoint, ...]:
    """The portfolio's value on each of the last `days` trading days (see the module's conventions)."""
    calendar = sorted({c.day for h in holdings for c in h.closes})[-days:]
    if not calendar:
        return ()
    totals = [0.0] * len(calendar)
    for h in holdings:
        units = float(h.quantity * h.fx_to_base)
        for i, close in enumerate(_aligned_closes(h, calendar)):
            totals[i] += units * close
    return tuple(ValuePoint(day=d, value=v) for d, v in zip(calendar, totals, strict=True))


def _aligned_closes(holding: ReportHolding, calendar: Sequence[date]) -> list[float]:
    closes = holding.closes
    if not closes:
        return [float(holding.price)] * len(calendar)
    out: list[float] = []
    last = float(closes[0].close)
    j = 0
    for day in calendar:
        while j < len(closes) and closes[j].day <= day:
            last = float(closes[j].close)
            j += 1
        out.append(last)
    return out


def period_return(values: Sequence[float], periods: int) -> float | None:
    """The time-weighted return over the last `periods` daily moves; None when the series is shorter."""
    if len(values) <= periods or values[-1 - periods] <= 0:
        return None
    return time_weighted_return(daily_returns(values[-1 - periods :]))


def year_to_date(series: Sequence[ValuePoint]) -> float | None:
    """The return since the last value of the previous calendar year; None if the series starts later."""
    if not series:
        return None
    year_start = date(series[-1].day.year, 1, 1)
    base = next((i for i in range(len(series) - 1, -1, -1) if series[i].day < year_start), None)
    if base is None or series[base].value <= 0:
        return None
    return time_weighted_return(daily_returns([p.value for p in series[base:]]))


def herfindahl(values: Sequence[Decimal], total: Decimal) -> float | None:
    if total <= 0:
        return None
    return sum(float(v / total) ** 2 for v in values)
