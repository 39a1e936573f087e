"""CSV on the wire: UTF-8, RFC 4180 lines (CRLF), ISO 8601 times in UTC, decimals in plain notation with a `.`
point, and no cell a spreadsheet would run as a formula.

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` in front (OWASP's advice
against CSV injection), so a symbol or an instrument's name reads as text. Numbers are written by Folio itself,
digits and at most one point: a negative one keeps its `-` and stays a number, as it cannot be a formula.
The files themselves (`trades_file`, `holdings_file`) answer both the `.csv` routes and `Accept: text/csv`;
`ledger_file` answers its `.csv` route.
"""

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from litestar import Request, Response
from litestar.response import Stream

from config.wiring.web import WebServices
from domain.models.holdings import ValuedCash, ValuedHolding
from domain.models.ledger import Entry, LedgerPage
from domain.models.trades import Trade, TradePage
from domain.services.ledger import LedgerService
from domain.services.trades import TradeService

CSV_MEDIA_TYPE = "text/csv"  # Litestar adds `; charset=utf-8` to text types
CHUNK_BYTES = 64 * 1024
PAGE = 500  # trades read per query while the file streams
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TRADE_COLUMNS = ("id", "executed_at", "symbol", "side", "quantity", "price", "realized_pnl")
# One line per posting: an entry's lines share its id, and their amounts sum to zero per currency.
LEDGER_COLUMNS = ("entry_id", "booked_at", "kind", "trade_id", "account", "currency", "amount")
# A line per holding (`type` holding), then a line per currency of cash (`type` cash), as the portfolio has them.
HOLDING_COLUMNS = (
    "type", "symbol", "name", "asset_class", "currency", "quantity", "average_cost", "price", "market_value",
    "cost_basis", "unrealized_pnl", "unrealized_pnl_pct", "day_change", "day_change_pct", "market_value_base", "weight",
)  # fmt: skip


def wants_csv(request: Request[Any, Any, Any]) -> bool:
    """Whether the client's Accept prefers the CSV file to the JSON document (JSON when it says neither)."""
    return request.accept.best_match(["application/json", CSV_MEDIA_TYPE], default="application/json") == CSV_MEDIA_TYPE


def text_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def number_cell(value: Decimal) -> str:
    return format(value if value else abs(value), "f")  # never `-0`, never an exponent


def time_cell(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def csv_lines(rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def trade_cells(trade: Trade) -> tuple[str, ...]:
    return (
        str(trade.id), time_cell(trade.executed_at), text_cell(trade.symbol), text_cell(trade.side),
        number_cell(trade.quantity), number_cell(trade.price), number_cell(trade.realized_pnl),
    )  # fmt: skip


def holding_cells(h: ValuedHolding) -> tuple[str, ...]:
    texts = ("holding", text_cell(h.symbol), text_cell(h.name), text_cell(h.asset_class), text_cell(h.currency))
    numbers = (
        h.quantity, h.average_cost, h.price, h.market_value, h.cost_basis, h.unrealized_pnl, h.unrealized_pnl_pct,
        h.day_change, h.day_change_pct, h.market_value_base, h.weight,
    )  # fmt: skip
    return (*texts, *(number_cell(n) for n in numbers))


def cash_cells(c: ValuedCash) -> tuple[str, ...]:
    """Cash of one currency: its amount is its quantity, value and cost; it has no price, profit or day change."""
    zero = number_cell(Decimal(0))
    amount = number_cell(c.amount)
    return (
        "cash", "", "", "", text_cell(c.currency), amount, "", "", amount, amount, zero, zero, zero, zero,
        number_cell(c.amount_base), number_cell(c.weight),
    )  # fmt: skip


def entry_lines(entry: Entry) -> list[tuple[str, ...]]:
    head = (
        str(entry.id),
        time_cell(entry.booked_at),
        text_cell(entry.kind),
        "" if entry.trade_id is None else str(entry.trade_id),
    )
    return [(*head, text_cell(p.account), text_cell(p.currency), number_cell(p.amount)) for p in entry.postings]


async def trades_csv(trades: AsyncIterator[Trade]) -> AsyncIterator[bytes]:
    """The header, then the trades a chunk at a time: an export of any size streams in constant memory."""
    async for chunk in _streamed(TRADE_COLUMNS, (trade_cells(trade) async for trade in trades)):
        yield chunk


async def _streamed(columns: Sequence[str], rows: AsyncIterator[Sequence[str]]) -> AsyncIterator[bytes]:
    chunk = bytearray(csv_lines([columns]))
    async for row in rows:
        chunk += csv_lines([row])
        if len(chunk) >= CHUNK_BYTES:
            yield bytes(chunk)
            chunk.clear()
    yield bytes(chunk)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def _every_trade(trades: TradeService, user_id: int, page: TradePage) -> AsyncIterator[Trade]:
    while True:
        for trade in page.items:
            yield trade
        if page.next_before is None:
            return
        page = await trades.history(user_id, limit=PAGE, before=page.next_before)


async def trades_file(services: WebServices, user_id: int) -> Stream:
    """Every trade of the user, newest first, streamed; the first page is read before, so a 404 comes whole."""
    trades = services.trades
    first = await trades.history(user_id, limit=PAGE, before=None)
    body = trades_csv(_every_trade(trades, user_id, first))
    return Stream(body, media_type=CSV_MEDIA_TYPE, headers=_attachment(f"folio-trades-{user_id}.csv"))


async def _every_posting(ledger: LedgerService, user_id: int, page: LedgerPage) -> AsyncIterator[Sequence[str]]:
    while True:
        for entry in page.items:
            for line in entry_lines(entry):
                yield line
        if page.next_before is None:
            return
        page = await ledger.entries(user_id, limit=PAGE, before=page.next_before)


async def ledger_file(services: WebServices, user_id: int) -> Stream:
    """Every ledger entry of the user, newest first, a line per posting, streamed (a 404 comes before it)."""
    ledger = services.ledger
    first = await ledger.entries(user_id, limit=PAGE)
    body = _streamed(LEDGER_COLUMNS, _every_posting(ledger, user_id, first))
    return Stream(body, media_type=CSV_MEDIA_TYPE, headers=_attachment(f"folio-ledger-{user_id}.csv"))


async def holdings_file(services: WebServices, user_id: int) -> Response[bytes]:
    portfolio, _ = await services.portfolios.read(user_id)
    lines = [HOLDING_COLUMNS, *(holding_cells(h) for h in portfolio.holdings), *(cash_cells(c) for c in portfolio.cash)]
    body = csv_lines(lines)
    return Response(body, media_type=CSV_MEDIA_TYPE, headers=_attachment(f"folio-holdings-{user_id}.csv"))
