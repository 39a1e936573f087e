"""Trade imports on the wire: what an import booked (or would book), and the rows at fault."""

from datetime import datetime
from decimal import Decimal

import msgspec

from domain.models.trade_imports import RowError
from domain.services.trade_imports import ImportReport
from gateway.trade_schemas import HoldingOut, Side


class RowErrorOut(msgspec.Struct, frozen=True, kw_only=True):
    """One fault: the row (the header is row 1), the file's column (empty for the row as a whole), the
    trade's field it feeds, and why."""

    row: int
    column: str
    field: str
    message: str
    source: str = "body"


class ImportedTradeOut(msgspec.Struct, frozen=True, kw_only=True):
    row: int
    trade_id: int | None  # None on a dry run: nothing was booked
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    executed_at: datetime
    realized_pnl: Decimal
    holding: HoldingOut


class ImportOut(msgspec.Struct, frozen=True, kw_only=True):
    format: str
    dry_run: bool
    rows: int  # the data rows read (blank lines aside)
    booked: list[ImportedTradeOut]  # in booking order: oldest first
    duplicates: list[int]  # rows imported before, by this user: booked once, not again
    ignored: list[int]  # rows that are no trade in the broker's layout (dividends, transfers)
    errors: list[RowErrorOut]  # a dry run's faults; a real import with any is a 422 instead


class ImportProblem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The 422 of an import with rows at fault: problem details whose `errors` name row and column."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[RowErrorOut]


def row_error_out(error: RowError) -> RowErrorOut:
    return RowErrorOut(row=error.row, column=error.column, field=error.field, message=error.message)


def import_out(report: ImportReport) -> ImportOut:
    booked = [
        ImportedTradeOut(
            row=b.row,
            trade_id=None if report.dry_run else b.result.trade.id,
            symbol=b.result.trade.symbol,
            side=b.result.trade.side,
            quantity=b.result.trade.quantity,
            price=b.result.trade.price,
            executed_at=b.result.trade.executed_at,
            realized_pnl=b.result.trade.realized_pnl,
            holding=HoldingOut(*msgspec.structs.astuple(b.result.position)),
        )
        for b in report.outcome.booked
    ]
    return ImportOut(
        format=report.layout,
        dry_run=report.dry_run,
        rows=report.records,
        booked=booked,
        duplicates=list(report.outcome.duplicates),
        ignored=list(report.ignored),
        errors=[row_error_out(e) for e in report.outcome.errors],
    )
