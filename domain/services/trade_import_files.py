"""Reading a CSV file of trades in one of the layouts: every row's trade, or every row's fault."""

import csv
import io
from collections import Counter
from collections.abc import Iterator

import msgspec

from domain.errors import InvalidRequestError
from domain.models.trade_imports import ImportRow, RowError, fingerprint
from domain.models.trades import Order
from domain.services.trade_import_layouts import CellError, Layout, TradeLine
from domain.services.trades import validate

MAX_ERRORS = 100  # a file of wrong rows says enough in its first hundred


class ParsedFile(msgspec.Struct, frozen=True, kw_only=True):
    rows: tuple[ImportRow, ...]  # in booking order: oldest first
    ignored: tuple[int, ...]  # lines of the file that are no trade (a broker's dividends)
    errors: tuple[RowError, ...]
    records: int  # data rows read


def parse_file(text: str, layout: Layout) -> ParsedFile:
    """The file's trades in booking order, its lines that are no trade, and the faults, naming row and column."""
    records = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(records, [])]
        missing = [column for column in layout.columns.values() if column not in header]
        if missing:
            errors = [RowError(row=1, field=_field(layout, c), column=c, message=f"no column {c}") for c in missing]
            return ParsedFile(rows=(), ignored=(), errors=tuple(errors), records=0)
        return _rows(_records(records, header), layout)
    except csv.Error as e:
        fault = RowError(row=records.line_num, field="row", message=f"not a CSV line: {e}")
        return ParsedFile(rows=(), ignored=(), errors=(fault,), records=0)


def _records(records: Iterator[list[str]], header: list[str]) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    for number, cells in enumerate(records, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            message = f"has {len(cells)} cells where the header has {len(header)}"
            yield number, RowError(row=number, field="row", message=message)
            continue
        yield number, dict(zip(header, cells, strict=True))


def _rows(records: Iterator[tuple[int, dict[str, str] | RowError]], layout: Layout) -> ParsedFile:
    lines: list[tuple[int, TradeLine]] = []
    ignored: list[int] = []
    errors: list[RowError] = []
    count = 0
    for number, record in records:
        count += 1
        try:
            if isinstance(record, RowError):
                raise _RowFaultError(record)
            line = _checked(layout.read(record), number, layout)
        except _RowFaultError as fault:
            errors.append(fault.error)
            continue
        except CellError as e:
            errors.append(RowError(row=number, field=_field(layout, e.column), column=e.column, message=e.message))
            continue
        if line is None:
            ignored.append(number)
        else:
            lines.append((number, line))
    return ParsedFile(
        rows=_in_booking_order(lines, layout), ignored=tuple(ignored), errors=tuple(errors[:MAX_ERRORS]), records=count
    )


class _RowFaultError(Exception):
    def __init__(self, error: RowError) -> None:
        self.error = error


def _checked(read: TradeLine | None, number: int, layout: Layout) -> TradeLine | None:
    """The line with its amounts checked as an order's are; raises _RowFaultError naming the column at fault."""
    if read is None:
        return None
    order = Order(symbol=read.symbol, side=read.side, quantity=read.quantity, price=read.price)
    try:
        order = validate(order)
    except InvalidRequestError as e:
        field = e.field or "row"
        column = layout.columns.get(field, "")
        raise _RowFaultError(RowError(row=number, field=field, column=column, message=e.detail)) from e
    return msgspec.structs.replace(read, quantity=order.quantity, price=order.price)


def _in_booking_order(lines: list[tuple[int, TradeLine]], layout: Layout) -> tuple[ImportRow, ...]:
    if layout.newest_first:
        lines.reverse()
    lines.sort(key=lambda item: item[1].executed_at)  # stable: a day's trades keep the file's order
    seen: Counter[tuple[object, ...]] = Counter()
    rows = []
    for number, line in lines:
        order = Order(symbol=line.symbol, side=line.side, quantity=line.quantity, price=line.price)
        seen[(line.executed_at, order)] += 1
        rows.append(
            ImportRow(
                row=number,
                order=order,
                executed_at=line.executed_at,
                fingerprint=fingerprint(order, line.executed_at, seen[(line.executed_at, order)]),
            )
        )
    return tuple(rows)


def _field(layout: Layout, column: str) -> str:
    return next((field for field, header in layout.columns.items() if header == column), "row")
