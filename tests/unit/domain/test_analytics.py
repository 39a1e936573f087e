"""Each analytics figure against a hand computation on small, known portfolios."""

import math
import statistics
from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.analytics.portfolio import analyse, period_return, value_series, year_to_date
from domain.models.quotes import DailyClose
from domain.models.reports import ReportHolding, ValuePoint

D = Decimal


def closes(start: date, *prices: float) -> tuple[DailyClose, ...]:
    return tuple(DailyClose(day=start + timedelta(days=i), close=D(str(p))) for i, p in enumerate(prices))


def holding(symbol, qty, cost, price, *, cls="equity", ccy="USD", fx="1", series=()) -> ReportHolding:
    return ReportHolding(symbol=symbol, name=symbol.title(), asset_class=cls, currency=ccy, quantity=D(qty),
                         average_cost=D(cost), price=D(price), fx_to_base=D(fx), closes=series)  # fmt: skip


START = date(2026, 1, 5)


def test_empty_portfolio_has_zero_value_and_no_statistics():
    a = analyse([], base_currency="USD", risk_free_rate=0.04)
    assert (a.total_value, a.cost_basis, a.unrealized_pnl) == (0, 0, 0)
    assert a.series == ()
    assert a.as_of is None
    assert a.unrealized_pnl_pct is None
    assert a.herfindahl is None
    assert (a.return_1m, a.return_ytd, a.volatility, a.sharpe, a.max_drawdown) == (None,) * 5
    assert a.by_asset_class == a.by_currency == a.top_holdings == ()


def test_single_holding_totals_returns_volatility_sharpe_and_drawdown():
    # 10 shares bought at 8; closes 10, 11, 9.9, 12.87; today's price 13.
    h = holding("ACME", "10", "8", "13", series=closes(START, 10, 11, 9.9, 12.87))
    a = analyse([h], base_currency="USD", risk_free_rate=0.02)
    assert a.total_value == D("130.00")
    assert a.cost_basis == D("80.00")
    assert a.unrealized_pnl == D("50.00")
    assert a.unrealized_pnl_pct == pytest.approx(50 / 80)
    assert [p.value for p in a.series] == pytest.approx([100, 110, 99, 128.7])
    # Daily returns by hand: +10 %, -10 %, +30 %.
    r = [0.10, -0.10, 0.30]
    vol = statistics.stdev(r) * math.sqrt(252)
    assert a.volatility == pytest.approx(vol)
    assert a.sharpe == pytest.approx((sum(r) / 3 * 252 - 0.02) / vol)
    assert a.max_drawdown == pytest.approx(0.10)  # 110 -> 99
    assert (a.drawdown_peak, a.drawdown_trough) == (START + timedelta(days=1), START + timedelta(days=2))
    assert a.herfindahl == pytest.approx(1.0)
    assert a.return_1m is None  # 3 moves are less than a month
    assert [(x.key, x.weight) for x in a.by_asset_class] == [("equity", 1.0)]
    assert a.top_holdings[0].symbol == "ACME"
    assert a.top_holdings[0].unrealized_pnl == D("50.00")


def test_flat_holdings_have_no_sharpe_and_expose_their_own_currency():
    usd = holding("TBILL", "1000", "1", "1", cls="bond", series=closes(START, *[1] * 30))
    eur = holding("EURBOND", "100", "1", "1", cls="bond", ccy="EUR", fx="1.10", series=closes(START, *[1] * 30))
    a = analyse([usd, eur], base_currency="USD", risk_free_rate=0.04)
    assert a.total_value == D("1110.00")
    assert a.unrealized_pnl == D("0.00")
    assert a.volatility == 0
    assert a.sharpe is None
    assert a.max_drawdown == 0
    assert a.return_1m == pytest.approx(0.0)
    assert [(x.key, x.value) for x in a.by_currency] == [("USD", D("1000.00")), ("EUR", D("110.00"))]
    assert a.herfindahl == pytest.approx((1000 / 1110) ** 2 + (110 / 1110) ** 2)


def test_missing_days_carry_the_previous_close_forward_and_fx_converts():
    full = holding("FULL", "1", "1", "4", series=closes(START, 1, 2, 3, 4))
    # GAPPY has no close on days 0 and 2: day 0 takes its first close, day 2 carries day 1's.
    gappy = ReportHolding(symbol="GAPPY", name="Gappy", asset_class="etf", currency="EUR", quantity=D(2),
                          average_cost=D(10), price=D(30), fx_to_base=D("1.5"),
                          closes=(DailyClose(day=START + timedelta(days=1), close=D(10)),
                                  DailyClose(day=START + timedelta(days=3), close=D(20))))  # fmt: skip
    series = value_series([full, gappy], 252)
    # units of GAPPY in base currency: 2 x 1.5 = 3
    assert [p.value for p in series] == pytest.approx([1 + 30, 2 + 30, 3 + 30, 4 + 60])
    a = analyse([full, gappy], base_currency="USD", risk_free_rate=0.0)
    assert a.total_value == D("94.00")  # 4 + 2 x 30 x 1.5
    assert a.cost_basis == D("31.00")  # 1 + 2 x 10 x 1.5
    assert {x.key: x.value for x in a.by_asset_class} == {"etf": D("90.00"), "equity": D("4.00")}
    assert {x.key for x in a.by_currency} == {"EUR", "USD"}


def test_instrument_without_closes_is_flat_at_its_price():
    a = analyse([holding("NEW", "2", "5", "7"), holding("OLD", "1", "1", "3", series=closes(START, 1, 3))],
                base_currency="USD", risk_free_rate=0.0)  # fmt: skip
    assert [p.value for p in a.series] == pytest.approx([15, 17])


def test_period_returns_count_trading_days_back():
    values = [100.0 + i for i in range(300)]
    assert period_return(values, 21) == pytest.approx(399 / 378 - 1)
    assert period_return(values, 63) == pytest.approx(399 / 336 - 1)
    assert period_return(values, 251) == pytest.approx(399 / 148 - 1)
    assert period_return(values[:21], 21) is None


def test_year_to_date_starts_from_the_last_value_of_the_previous_year():
    series = (ValuePoint(day=date(2025, 12, 30), value=90.0), ValuePoint(day=date(2025, 12, 31), value=100.0),
              ValuePoint(day=date(2026, 1, 2), value=105.0), ValuePoint(day=date(2026, 3, 2), value=120.0))  # fmt: skip
    assert year_to_date(series) == pytest.approx(0.20)
    assert year_to_date(series[2:]) is None


def test_allocation_weights_sum_to_one_and_top_holdings_are_ordered():
    hs = [holding(f"S{i}", "1", "1", str(i + 1)) for i in range(12)]
    a = analyse(hs, base_currency="USD", risk_free_rate=0.0)
    assert [t.symbol for t in a.top_holdings] == [f"S{i}" for i in range(11, 1, -1)]
    assert sum(x.weight for x in a.by_asset_class) == pytest.approx(1.0)
    total = sum(range(1, 13))
    assert a.herfindahl == pytest.approx(sum((i / total) ** 2 for i in range(1, 13)))
