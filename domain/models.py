"""Folio's domain values: plain, typed, frozen msgspec Structs."""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import msgspec

from domain.errors import InsufficientHoldingsError, InvalidRequestError

AssetClass = Literal["equity", "etf", "bond", "crypto", "cash"]
ASSET_CLASSES: tuple[AssetClass, ...] = ("equity", "etf", "bond", "crypto", "cash")


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    symbol: str
    name: str
    asset_class: AssetClass
    currency: str
    exchange: str


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The latest quote of one instrument, in the instrument's currency."""

    instrument_id: int
    price: Decimal
    bid: Decimal
    ask: Decimal
    previous_close: Decimal
    day_high: Decimal
    day_low: Decimal
    volume: int
    as_of: datetime


class Holding(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """What a user owns of one instrument; the unit the cache stores (array_like: compact bytes)."""

    instrument_id: int
    quantity: Decimal
    average_cost: Decimal


class Holdings(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """All of one user's holdings: changes only on trades, so it is what gets cached."""

    user_id: int
    items: tuple[Holding, ...]


class FillTicket(msgspec.Struct, frozen=True, kw_only=True):
    """Issued by a cache miss; a fill with it is refused if the user was invalidated in between."""

    user_id: int
    version: bytes | None = None
    usable: bool = True


class ValuedHolding(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    name: str
    asset_class: AssetClass
    currency: str
    quantity: Decimal
    average_cost: Decimal
    price: Decimal
    market_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_pct: Decimal
    market_value_base: Decimal
    weight: Decimal


class Portfolio(msgspec.Struct, frozen=True, kw_only=True):
    """Holdings valued at one quote snapshot; totals in the base currency."""

    user_id: int
    base_currency: str
    quotes_version: int
    quotes_as_of: datetime | None
    total_market_value: Decimal
    total_cost_basis: Decimal
    total_unrealized_pnl: Decimal
    total_unrealized_pnl_pct: Decimal
    holdings: tuple[ValuedHolding, ...]


CASH_PREFIX = "CASH-"


class QuoteSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Every instrument and its latest quote at one published version, shared by all users.

    Cash instruments (`CASH-EUR`, ...) are quoted in the base currency, so their price is the
    exchange rate into the base currency; `fx_to_base` holds those rates, built once per version.
    """

    version: int
    as_of: datetime | None
    instruments: dict[int, Instrument]
    quotes: dict[int, Quote]
    base_currency: str
    fx_to_base: dict[str, Decimal]


def build_snapshot(
    version: int, instruments: dict[int, Instrument], quotes: dict[int, Quote], base_currency: str
) -> QuoteSnapshot:
    """Assemble a snapshot and derive its exchange rates from the cash instruments' quotes."""
    rates = {
        inst.symbol.removeprefix(CASH_PREFIX): quotes[inst.id].price
        for inst in instruments.values()
        if inst.asset_class == "cash" and inst.symbol.startswith(CASH_PREFIX) and inst.id in quotes
    }
    base = rates.get(base_currency, Decimal(1))
    fx = {currency: rate / base for currency, rate in rates.items()}
    fx[base_currency] = Decimal(1)
    as_of = max((q.as_of for q in quotes.values()), default=None)
    return QuoteSnapshot(
        version=version, as_of=as_of, instruments=instruments, quotes=quotes, base_currency=base_currency, fx_to_base=fx
    )


class QuoteUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """One instrument's new price in an ingest batch; bid, ask and volume are optional."""

    symbol: str
    price: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    volume: int | None = None


class DailyClose(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    close: Decimal


Side = Literal["buy", "sell"]
QUANTUM = Decimal("0.00000001")  # the schema keeps 8 decimal places
# What the ledger can record (its digits before the point): a holding's quantity, realised profit or loss.
MAX_HELD = Decimal("1e20")
MAX_PNL = Decimal("1e16")


class Order(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """One holding's running state: quantity, average cost, and profit realised by sells."""

    quantity: Decimal = Decimal(0)
    average_cost: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    def apply(self, order: Order) -> tuple["Position", Decimal]:
        """The position after `order`, and the profit the order realised; raises if selling more than held.

        Raises InvalidRequestError (naming `quantity`) for a holding or a profit too large for the ledger.
        """
        if order.side == "buy":
            quantity = self.quantity + order.quantity
            if quantity >= MAX_HELD:
                raise InvalidRequestError(f"a holding must stay below {MAX_HELD:,.0f}", field="quantity")
            cost = (self.quantity * self.average_cost + order.quantity * order.price) / quantity
            return Position(quantity=quantity, average_cost=cost.quantize(QUANTUM), realized_pnl=self.realized_pnl), (
                Decimal(0)
            )
        if order.quantity > self.quantity:
            raise InsufficientHoldingsError(order.symbol, held=self.quantity)
        realized = (order.price - self.average_cost) * order.quantity
        if abs(realized) >= MAX_PNL or abs(self.realized_pnl + realized) >= MAX_PNL:
            raise InvalidRequestError(f"profit or loss must stay below {MAX_PNL:,.0f}", field="quantity")
        realized = realized.quantize(QUANTUM)
        quantity = self.quantity - order.quantity
        average = self.average_cost if quantity else Decimal(0)
        return Position(quantity=quantity, average_cost=average, realized_pnl=self.realized_pnl + realized), realized


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    realized_pnl: Decimal
    executed_at: datetime


class TradeResult(msgspec.Struct, frozen=True, kw_only=True):
    trade: Trade
    position: Position
    replayed: bool = False


class TradePage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[Trade, ...]
    next_before: int | None


ReportStatus = Literal["queued", "running", "succeeded", "failed"]
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


class ProcessSample(msgspec.Struct, frozen=True, kw_only=True):
    """One process's heartbeat in the fleet view: who it is and its latest load (issue 7)."""

    process: str  # the process type: "web" or "worker"
    instance: str  # the unit a platform scales (container, dyno, pod): INSTANCE_ID or the host name
    pid: int
    at: float  # epoch seconds of the sample
    started_at: float
    cpu_percent: float
    memory_percent: float


class Backlog(msgspec.Struct, frozen=True, kw_only=True):
    """The report queue as the workers' scaler sees it: messages waiting, and the oldest one's age."""

    queued: int
    oldest_age_s: float  # 0 when nothing waits
