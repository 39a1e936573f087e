"""A portfolio's value day by day, the money that moved in and out of it, and the figures on them."""

from datetime import date
from decimal import Decimal

import msgspec


class DailyValue(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """The portfolio's value at the close of `day`, in the base currency, after that day's flows."""

    day: date
    value: Decimal


class ExternalFlow(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Money the owner moved in (a deposit: positive) or out (a withdrawal: negative) on `day`.

    Trades, fees, dividends and interest are not external: they are the portfolio's own doing.
    """

    day: date
    amount: Decimal


class Drawdown(msgspec.Struct, frozen=True, kw_only=True):
    """The largest fall of the growth index from a running peak: `depth` 0.25 is a 25 % fall."""

    depth: float
    peak: date
    trough: date


class PerformanceFigures(msgspec.Struct, frozen=True, kw_only=True):
    """Figures over [start, end]; None where the history is too short (or, for the MWR, has no solution)."""

    start: date | None
    end: date | None
    days: int  # valuation days in the series
    time_weighted_return: float | None  # chain-linked daily, flows excluded; over the whole period
    money_weighted_return: float | None  # XIRR: annual rate, actual/365
    volatility: float | None  # annualised, of the daily time-weighted returns
    sharpe: float | None
    max_drawdown: Drawdown | None


class ValueHistory(msgspec.Struct, frozen=True, kw_only=True):
    """What the figures are computed from: the daily values (oldest first) and the external flows of a period."""

    values: tuple[DailyValue, ...]
    flows: tuple[ExternalFlow, ...]
