"""Trade imports on the in-memory twins: the layouts read their brokers' files, faults name row and column."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.adapters.memory.trades import InMemoryTradeStore
from domain.errors import InvalidRequestError
from domain.models.audit import Actor, AuditQuery, change_digest
from domain.models.ledger import CashMove
from domain.models.quotes import Instrument
from domain.models.trade_imports import TooManyRowsError, TradeImportRejectedError, rows_digest
from domain.services.trade_import_files import parse_file
from domain.services.trade_import_layouts import LAYOUTS
from domain.services.trade_imports import ImportReport, TradeImportService

SAMPLES = Path(__file__).with_name("samples")
USER = 7
ACTOR = Actor(name="user:7", request_id="r-1")


class Desk:
    def __init__(self) -> None:
        self.holdings = InMemoryHoldingsRepository()
        self.holdings.add_user(USER)
        quotes = InMemoryQuoteRepository()
        for n, symbol in enumerate(("ACME", "GLOBX"), start=1):
            quotes.instruments[n] = Instrument(
                id=n, symbol=symbol, name=symbol, asset_class="equity", currency="USD", exchange="XNYS"
            )
        self.store = InMemoryTradeStore(self.holdings, quotes)
        deposit = CashMove(kind="deposit", amount=Decimal(1_000_000), currency="USD").draft()
        self.store.ledger.post(USER, [deposit])  # imported buys settle in cash
        self.invalidated: list[int] = []
        self.service = TradeImportService(self.store, self._invalidate, max_rows=10)

    async def _invalidate(self, user_id: int) -> None:
        self.invalidated.append(user_id)

    async def run(self, text: str, layout: str = "generic", *, dry_run: bool = False) -> ImportReport:
        return await self.service.run(USER, text, layout, dry_run=dry_run, actor=ACTOR)

    def held(self) -> dict[int, Decimal]:
        return {i: h.quantity for i, h in self.holdings.holdings[USER].items()}


def booked(report: ImportReport) -> list[tuple[int, str, str, Decimal, Decimal, datetime]]:
    return [
        (b.row, b.result.trade.symbol, b.result.trade.side, b.result.trade.quantity, b.result.trade.price,
         b.result.trade.executed_at)
        for b in report.outcome.booked
    ]  # fmt: skip


async def test_an_interactive_brokers_flex_query_books_its_trades():
    desk = Desk()
    text = (SAMPLES / "ibkr-trades.csv").read_text()
    report = await desk.run(text, "ibkr")
    rows = parse_file(text, LAYOUTS["ibkr"]).rows
    assert booked(report) == [
        (2, "ACME", "buy", Decimal(100), Decimal("101.25"), datetime(2024, 1, 15, 14, 30, tzinfo=UTC)),
        (3, "GLOBX", "buy", Decimal(1500), Decimal("12.5"), datetime(2024, 1, 16, 9, 35, 12, tzinfo=UTC)),
        (4, "ACME", "sell", Decimal(40), Decimal("110.5"), datetime(2024, 2, 1, 15, 59, 59, tzinfo=UTC)),
    ]
    assert desk.held() == {1: Decimal(60), 2: Decimal(1500)}
    assert desk.invalidated == [USER]
    page = await desk.store.audit.page(AuditQuery(target=f"user:{USER}"), limit=10, before=None)
    assert [(r.action, r.actor, r.request_id) for r in page.items] == [("trade.import", "user:7", "r-1")]
    change = {"format": "ibkr", "rows": 3, "rows_digest": rows_digest(rows), "booked": 3, "duplicates": 0}
    assert page.items[0].digest == change_digest(change)


async def test_a_schwab_export_books_its_trades_oldest_first_and_ignores_the_rest():
    desk = Desk()
    report = await desk.run((SAMPLES / "schwab-transactions.csv").read_text(), "schwab")
    jan15 = datetime(2024, 1, 15, tzinfo=UTC)
    # Newest first in the file: the same day's buy (row 6) goes before its sell (row 5).
    assert booked(report) == [
        (6, "ACME", "buy", Decimal(110), Decimal("101.25"), jan15),
        (5, "ACME", "sell", Decimal(10), Decimal("101.3"), jan15),
        (4, "GLOBX", "buy", Decimal(1500), Decimal("12.5"), datetime(2024, 1, 16, tzinfo=UTC)),
        (2, "ACME", "sell", Decimal(40), Decimal("110.5"), datetime(2024, 2, 1, tzinfo=UTC)),
    ]
    assert (report.ignored, report.records) == ((3, 7), 6)
    assert desk.held() == {1: Decimal(60), 2: Decimal(1500)}


async def test_the_same_trades_from_two_brokers_files_are_booked_once():
    desk = Desk()
    generic = "executed_at,symbol,side,quantity,price\n2024-01-15T14:30:00Z,ACME,buy,100,101.25\n"
    await desk.run(generic)
    report = await desk.run((SAMPLES / "ibkr-trades.csv").read_text(), "ibkr")
    assert (report.outcome.duplicates, [b.row for b in report.outcome.booked]) == ((2,), [3, 4])


@pytest.mark.parametrize(
    ("layout", "text", "row", "column"),
    [
        ("ibkr", '"Symbol","DateTime","Buy/Sell","Quantity","TradePrice"\nACME,2024-01-15,BUY,1,1\n', 2, "DateTime"),
        ("ibkr", '"Symbol","DateTime","Buy/Sell","Quantity","TradePrice"\nACME,20240115,BUY,1,1e3\n', 2, "TradePrice"),
        ("schwab", '"Date","Action","Symbol","Quantity","Price"\n01/15/2024,Buy,ACME,1,€1\n', 2, "Price"),
        ("schwab", '"Date","Action","Symbol","Quantity","Price"\n2024-01-15,Buy,ACME,1,1\n', 2, "Date"),
        ("schwab", '"Date","Action","Symbol","Quantity"\n', 1, "Price"),
        ("generic", "executed_at,symbol,side,quantity,price\n2024-01-15,ACME,buy,-1,1\n", 2, "quantity"),
        ("generic", "executed_at,symbol,side,quantity,price\n2024-01-15,ACME,buy,1,10000000000\n", 2, "price"),
        ("generic", "executed_at,symbol,side,quantity,price\n2024-01-15,AC ME,buy,1,1\n", 2, "symbol"),
    ],
)
async def test_a_cell_that_cannot_be_read_names_its_row_and_the_files_column(layout, text, row, column):
    desk = Desk()
    with pytest.raises(TradeImportRejectedError) as rejected:
        await desk.run(text, layout)
    assert [(e.row, e.column) for e in rejected.value.errors] == [(row, column)]
    assert desk.held() == {}
    assert desk.invalidated == []


async def test_an_unknown_format_is_refused_naming_it():
    with pytest.raises(InvalidRequestError) as refused:
        await Desk().run("x", "excel")
    assert refused.value.field == "format"


async def test_a_file_of_more_rows_than_the_limit_is_refused_whole():
    desk = Desk()
    text = "executed_at,symbol,side,quantity,price\n" + "2024-01-15,ACME,buy,1,1\n" * 11
    with pytest.raises(TooManyRowsError):
        await desk.run(text, dry_run=True)
    assert len((await desk.run(text.rsplit("2024", 1)[0])).outcome.booked) == 10
