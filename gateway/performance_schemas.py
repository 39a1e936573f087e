"""Performance on the wire: a user's figures over a period, the daily values they come from, a benchmark's."""

from datetime import date
from decimal import Decimal

import msgspec

from domain.models.performance import (
    BenchmarkFigures,
    DailyValue,
    PerformanceAnswer,
    PerformanceFigures,
    PerformanceReport,
)
from gateway.responses import json_encoder


class DrawdownOut(msgspec.Struct, frozen=True, kw_only=True):
    depth: float  # 0.25: a 25 % fall of the growth index from its peak
    peak: date
    trough: date


class FiguresOut(msgspec.Struct, frozen=True, kw_only=True):
    start: date | None  # the first and last valuation days (null without any)
    end: date | None
    days: int
    time_weighted_return: float | None  # over the whole period, not annualised
    money_weighted_return: float | None  # XIRR, an annual rate
    volatility: float | None  # annualised
    sharpe: float | None
    max_drawdown: DrawdownOut | None


class PointOut(msgspec.Struct, frozen=True):
    day: date
    value: Decimal


class FlowOut(msgspec.Struct, frozen=True):
    day: date
    amount: Decimal  # a deposit positive, a withdrawal negative


class BenchmarkOut(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    figures: FiguresOut
    series: list[PointOut]  # the instrument's closes, in its own currency


class PerformanceOut(msgspec.Struct, frozen=True, kw_only=True):
    """The answer (as documented; `render_performance` writes the same fields with the series pre-encoded)."""

    user_id: int
    period: str
    since: date
    until: date
    base_currency: str
    figures: FiguresOut
    series: list[PointOut]  # the portfolio's value at each valuation day's close, cash included
    flows: list[FlowOut]
    benchmark: BenchmarkOut | None


def _figures(f: PerformanceFigures) -> FiguresOut:
    d = f.max_drawdown
    return FiguresOut(
        start=f.start,
        end=f.end,
        days=f.days,
        time_weighted_return=f.time_weighted_return,
        money_weighted_return=f.money_weighted_return,
        volatility=f.volatility,
        sharpe=f.sharpe,
        max_drawdown=None if d is None else DrawdownOut(depth=d.depth, peak=d.peak, trough=d.trough),
    )


def _series(values: tuple[DailyValue, ...]) -> list[PointOut]:
    return [PointOut(v.day, v.value) for v in values]


def _benchmark(b: BenchmarkFigures | None) -> BenchmarkOut | None:
    if b is None:
        return None
    return BenchmarkOut(symbol=b.symbol, figures=_figures(b.figures), series=_series(b.series))


def performance_out(user_id: int, period: str, base_currency: str, r: PerformanceReport) -> PerformanceOut:
    return PerformanceOut(
        user_id=user_id,
        period=period,
        since=r.since,
        until=r.until,
        base_currency=base_currency,
        figures=_figures(r.figures),
        series=_series(r.series),
        flows=[FlowOut(f.day, f.amount) for f in r.flows],
        benchmark=_benchmark(r.benchmark),
    )


class _PerformanceBody(msgspec.Struct, frozen=True, kw_only=True):
    """`PerformanceOut`, field for field, with the series and flows as the JSON they were encoded to once."""

    user_id: int
    period: str
    since: date
    until: date
    base_currency: str
    figures: FiguresOut
    series: msgspec.Raw
    flows: msgspec.Raw
    benchmark: BenchmarkOut | None


def render_performance(user_id: int, period: str, base_currency: str, a: PerformanceAnswer) -> bytes:
    """The JSON body of `PerformanceOut` for an answer."""
    return json_encoder.encode(
        _PerformanceBody(
            user_id=user_id,
            period=period,
            since=a.since,
            until=a.until,
            base_currency=base_currency,
            figures=_figures(a.figures),
            series=msgspec.Raw(a.series),
            flows=msgspec.Raw(a.flows),
            benchmark=_benchmark(a.benchmark),
        )
    )
