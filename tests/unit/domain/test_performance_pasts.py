"""What is stored ahead of a read gives the figures a read computes, to the bit: the figures without the Sharpe
ratio plus its mean return, completed for a risk-free rate, over any history (a property), and the series and
flows encoded as the route encodes them."""

from datetime import date, timedelta
from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.analytics.performance import (
    daily_returns,
    flows_on_valuation_days,
    growth_index,
    max_drawdown,
    owner_flows,
    performance,
    sharpe,
    stored_figures,
    time_weighted_return,
    volatility,
    with_sharpe,
)
from domain.analytics.rates import xirr
from domain.models.performance import DailyValue, ExternalFlow, encode_flows, encode_series
from gateway.performance_schemas import FlowOut, PointOut
from gateway.responses import json_encoder

START = date(2026, 1, 5)
amounts = st.decimals(min_value=Decimal("-5000"), max_value=Decimal("100000"), places=8, allow_nan=False)
histories = st.tuples(
    st.dictionaries(st.integers(0, 400), amounts, max_size=60),
    st.lists(st.tuples(st.integers(-5, 405), amounts), max_size=8),
    st.floats(min_value=-0.1, max_value=0.2, allow_nan=False),
)


def laid_out(
    points: dict[int, Decimal], moved: list[tuple[int, Decimal]]
) -> tuple[list[DailyValue], list[ExternalFlow]]:
    series = [DailyValue(day=START + timedelta(days=n), value=v) for n, v in points.items()]
    flows = sorted((ExternalFlow(day=START + timedelta(days=n), amount=a) for n, a in moved), key=lambda f: f.day)
    return series, flows


@settings(max_examples=300, deadline=None)
@given(histories)
def test_stored_figures_completed_for_a_rate_are_the_figures_a_read_computes(history):
    points, moved, rate = history
    series, flows = laid_out(points, moved)
    figures, mean = stored_figures(series, flows)
    assert with_sharpe(figures, mean, rate) == performance(series, flows, risk_free_rate=rate)


@settings(max_examples=300, deadline=None)
@given(histories)
def test_the_one_pass_figures_are_the_per_figure_functions_to_the_bit(history):
    points, moved, rate = history
    series, flows = laid_out(points, moved)
    ordered = sorted(series, key=lambda p: p.day)
    days = [p.day for p in ordered]
    returns = daily_returns([float(p.value) for p in ordered], flows_on_valuation_days(days, flows))
    observed = [r for r in returns if r is not None]
    vol = volatility(observed)
    figures = performance(series, flows, risk_free_rate=rate)
    assert figures.time_weighted_return == time_weighted_return(returns)
    assert figures.volatility == vol
    assert figures.sharpe == sharpe(observed, vol, rate)
    assert figures.max_drawdown == (max_drawdown(days, growth_index(returns)) if observed else None)
    assert figures.money_weighted_return == (xirr(owner_flows(ordered, flows)) if len(ordered) > 1 else None)


@given(histories)
def test_the_series_and_flows_are_encoded_as_the_route_encodes_its_points(history):
    points, moved, _ = history
    series, flows = laid_out(points, moved)
    assert encode_series(series) == json_encoder.encode([PointOut(p.day, p.value) for p in series])
    assert encode_flows(flows) == json_encoder.encode([FlowOut(f.day, f.amount) for f in flows])
    assert msgspec.json.decode(encode_series(series))[:1] == [
        {"day": p.day.isoformat(), "value": float(p.value)} for p in series[:1]
    ]
