"""Trades imported from a file: the rows read from it, and what booking them did or would do."""

import hashlib
from datetime import UTC, datetime

import msgspec

from domain.errors import InvalidRequestError
from domain.models.trades import QUANTUM, Order, TradeResult

TRADE_IMPORT = "trade.import"  # the audit action: one entry per import, with its rows' digest
FINGERPRINT_VERSION = "1"


class ImportRow(msgspec.Struct, frozen=True, kw_only=True):
    """One trade read from a file. `row` is its record's number in the file (the header is row 1)."""

    row: int
    order: Order
    executed_at: datetime
    fingerprint: str


class RowError(msgspec.Struct, frozen=True, kw_only=True):
    """Why one row cannot be booked: `field` is the trade's field, `column` the file's header for it."""

    row: int
    field: str
    message: str
    column: str = ""


class BookedRow(msgspec.Struct, frozen=True, kw_only=True):
    row: int
    result: TradeResult


class ImportOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What an import booked (or, on a dry run, would book): rows already imported before are `duplicates`."""

    booked: tuple[BookedRow, ...]
    duplicates: tuple[int, ...]
    errors: tuple[RowError, ...] = ()


class TradeImportRejectedError(InvalidRequestError):
    """At least one row cannot be booked, so none is."""

    def __init__(self, errors: tuple[RowError, ...]) -> None:
        first = errors[0]
        super().__init__(
            f"{len(errors)} row(s) cannot be booked, so none was; row {first.row}: {first.message}",
            field=first.column or first.field,
        )
        self.errors = errors


class TooManyRowsError(InvalidRequestError):
    """The file has more rows than one import books (the gateway answers 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file has more than {limit:,} rows: import it in parts", field="body")
        self.limit = limit


def fingerprint(order: Order, executed_at: datetime, occurrence: int) -> str:
    """The same trade read twice, from any of the formats, has the same fingerprint; `occurrence` tells apart
    identical trades in one file (the second identical line is occurrence 2), so a file re-read books nothing."""
    when = executed_at.astimezone(UTC).isoformat()
    amounts = (format(order.quantity.quantize(QUANTUM), "f"), format(order.price.quantize(QUANTUM), "f"))
    text = "|".join((FINGERPRINT_VERSION, when, order.symbol, order.side, *amounts, str(occurrence)))
    return hashlib.sha256(text.encode()).hexdigest()


def rows_digest(rows: tuple[ImportRow, ...]) -> str:
    """A SHA-256 over the rows' fingerprints in booking order: what the audit entry records of the file."""
    return hashlib.sha256("\n".join(r.fingerprint for r in rows).encode()).hexdigest()
