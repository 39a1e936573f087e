"""Report requests and attempts, the figures a report shows, and the email that carries it."""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import msgspec

from domain.models.quotes import AssetClass, DailyClose

ReportStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
EmailStatus = Literal["pending", "sending", "sent", "unknown"]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """One report request; the PostgreSQL row is the record (the broker message only wakes a worker)."""

    id: str
    user_id: int
    status: ReportStatus
    attempts: int
    email_status: EmailStatus
    error: str | None
    has_document: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime


class ReportRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What `ReportService.request` answers: the report, and whether this call created it."""

    report: Report
    created: bool


class ReportClaim(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt's hold on a report; `attempt` fences every later write of that attempt."""

    report_id: str
    user_id: int
    attempt: int
    email_status: EmailStatus
    has_document: bool
    recipient: str
    recipient_name: str


class ReportPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[Report, ...]
    next_cursor: str | None


class ReportHolding(msgspec.Struct, frozen=True, kw_only=True):
    """One holding as the analytics need it: current price and FX, and its daily closes (oldest first)."""

    symbol: str
    name: str
    asset_class: AssetClass
    currency: str
    quantity: Decimal
    average_cost: Decimal
    price: Decimal
    fx_to_base: Decimal = Decimal(1)
    closes: tuple[DailyClose, ...] = ()


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    value: Decimal
    weight: float  # fraction of the total, 0..1


class TopHolding(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    name: str
    asset_class: AssetClass
    value: Decimal
    unrealized_pnl: Decimal
    weight: float


class ValuePoint(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    day: date
    value: float


class PortfolioAnalytics(msgspec.Struct, frozen=True, kw_only=True):
    """A report's figures, in the base currency; None where the history is too short to say."""

    base_currency: str
    as_of: date | None
    holdings_count: int
    total_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_pct: float | None
    by_asset_class: tuple[Allocation, ...]
    by_currency: tuple[Allocation, ...]
    top_holdings: tuple[TopHolding, ...]
    series: tuple[ValuePoint, ...]
    return_1m: float | None
    return_3m: float | None
    return_ytd: float | None
    return_1y: float | None
    volatility: float | None  # annualised
    sharpe: float | None
    max_drawdown: float | None  # a positive fraction: 0.25 is a 25 % fall from a peak
    drawdown_peak: date | None = None  # the days of that peak and of the trough after it
    drawdown_trough: date | None = None
    herfindahl: float | None  # sum of squared weights, 1/n .. 1


class ReportDocument(msgspec.Struct, frozen=True, kw_only=True):
    """What the renderer is given: who it is for and the figures."""

    report_id: str
    user_id: int
    recipient_name: str
    generated_at: datetime
    analytics: PortfolioAnalytics


class Email(msgspec.Struct, frozen=True, kw_only=True):
    to: str
    subject: str
    text: str
    attachment_name: str
    attachment: bytes
    attachment_type: str = "application/pdf"
    headers: dict[str, str] = msgspec.field(default_factory=dict)


class DeadLetterFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which failed reports an operator means: `reason` is found in the failure's text (any case), and
    `older_than_s` keeps those that failed at least that many seconds ago. None matches every report."""

    reason: str | None = None
    older_than_s: float | None = None


class ProcessingPause(msgspec.Struct, frozen=True, kw_only=True):
    """Report processing is paused (by whom, since when): workers leave reports queued until resumed."""

    paused_by: str
    paused_at: datetime
