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


class HistoryVersion(msgspec.Struct, frozen=True, kw_only=True):
    """What a user's value history depends on: the last market close recorded (None before the first) and
    the user's latest ledger entry and trade ids (0 without any). Any new close, cash movement or trade
    changes it, so figures cached under one version stay right until it changes."""

    last_close: date | None
    ledger_entry: int
    trade: int


class BenchmarkFigures(msgspec.Struct, frozen=True, kw_only=True):
    """An instrument's figures over the same period, from its closes (no flows): what holding it would have done."""

    symbol: str
    figures: PerformanceFigures
    series: tuple[DailyValue, ...]


class PerformanceReport(msgspec.Struct, frozen=True, kw_only=True):
    """The user's figures over a period, the daily values they come from, and a benchmark's if one was asked."""

    since: date
    until: date
    figures: PerformanceFigures
    series: tuple[DailyValue, ...]
    flows: tuple[ExternalFlow, ...]
    benchmark: BenchmarkFigures | None


class StoredPast(msgspec.Struct, frozen=True, kw_only=True):
    """A period's answer as stored with the daily values it comes from (valid while they are): the figures
    without the Sharpe ratio (it depends on the risk-free rate) but with the annualised mean daily return it is
    computed from, and the series and flows already encoded (`encode_series`, `encode_flows`)."""

    figures: PerformanceFigures
    annual_mean: float | None  # mean daily return x 252; None where the Sharpe ratio is None
    series: bytes
    flows: bytes


class PerformanceAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """A period's figures with the daily values and flows encoded once, and a benchmark's if one was asked."""

    since: date
    until: date
    figures: PerformanceFigures
    series: bytes  # a JSON array of {"day", "value"}, oldest first
    flows: bytes  # a JSON array of {"day", "amount"}
    benchmark: BenchmarkFigures | None


# Decimals as exact JSON numbers, as the gateway sends every other amount.
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def encode_series(values: tuple[DailyValue, ...] | list[DailyValue]) -> bytes:
    """The daily values as the answer carries them: [{"day": "2026-01-02", "value": 1234.5}, ...]."""
    return _ENCODER.encode([{"day": v.day, "value": v.value} for v in values])


def encode_flows(flows: tuple[ExternalFlow, ...] | list[ExternalFlow]) -> bytes:
    """The external flows as the answer carries them: [{"day": "2026-01-02", "amount": -100}, ...]."""
    return _ENCODER.encode([{"day": f.day, "amount": f.amount} for f in flows])
