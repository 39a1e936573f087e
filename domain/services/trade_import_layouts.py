"""The CSV layouts an import reads: Folio's own (`generic`) and two brokers' trade exports.

Each layout names the headers it needs and turns one record (header -> cell) into a trade line, or into
None for a line that is no trade (a broker's dividend, say). A cell it cannot read raises `CellError`
naming the column, as the file names it.
"""

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

import msgspec

from domain.models.trades import Side

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,15}")
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class CellError(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


class TradeLine(msgspec.Struct, frozen=True, kw_only=True):
    executed_at: datetime
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal


class Layout(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    columns: Mapping[str, str]  # the trade's field -> the file's header for it
    read: Callable[[Mapping[str, str]], TradeLine | None]
    newest_first: bool = False  # the broker lists its trades newest first: book them the other way round


def _decimal(text: str, column: str, *, strip: str = "", signed: bool = False) -> Decimal:
    cleaned = text.strip()
    for character in strip:
        cleaned = cleaned.replace(character, "")
    if signed:
        cleaned = cleaned.removeprefix("-")
    if not _PLAIN_DECIMAL.fullmatch(cleaned):
        raise CellError(column, f"{column} must be a decimal number with a `.` point, not {text!r}")
    return Decimal(cleaned)


def _symbol(text: str, column: str) -> str:
    symbol = text.strip().upper()
    if not _SYMBOL.fullmatch(symbol):
        raise CellError(column, f"{column} must be 1 to 16 of A-Z, 0-9, `.` and `-`, not {text!r}")
    return symbol


def _side(text: str, column: str) -> Side:
    side = text.strip().lower()
    if side == "buy":
        return "buy"
    if side == "sell":
        return "sell"
    raise CellError(column, f"{column} must be buy or sell, not {text!r}")


def _iso_time(text: str, column: str) -> datetime:
    value = text.strip()
    try:
        when = datetime.fromisoformat(value) if "T" in value or " " in value else _midnight(date.fromisoformat(value))
    except ValueError:
        raise CellError(column, f"{column} must be an ISO 8601 date or date-time, not {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _generic(record: Mapping[str, str]) -> TradeLine:
    return TradeLine(
        executed_at=_iso_time(record["executed_at"], "executed_at"),
        symbol=_symbol(record["symbol"], "symbol"),
        side=_side(record["side"], "side"),
        quantity=_decimal(record["quantity"], "quantity"),
        price=_decimal(record["price"], "price"),
    )


def _ibkr_time(text: str, column: str) -> datetime:
    # Flex queries write `20240115;143000` (or the date alone), in the account's time zone: read as UTC.
    try:
        when = datetime.strptime(text.strip(), "%Y%m%d;%H%M%S" if ";" in text else "%Y%m%d")  # noqa: DTZ007
    except ValueError:
        raise CellError(column, f"{column} must read YYYYMMDD;HHMMSS, not {text!r}") from None
    return when.replace(tzinfo=UTC)


def _ibkr(record: Mapping[str, str]) -> TradeLine:
    return TradeLine(
        executed_at=_ibkr_time(record["DateTime"], "DateTime"),
        symbol=_symbol(record["Symbol"], "Symbol"),
        side=_side(record["Buy/Sell"], "Buy/Sell"),
        # Negative on a sell: the side says so.
        quantity=_decimal(record["Quantity"], "Quantity", strip=",", signed=True),
        price=_decimal(record["TradePrice"], "TradePrice", strip=","),
    )


def _schwab_date(text: str, column: str) -> datetime:
    # `01/15/2024`, or `01/15/2024 as of 01/12/2024` for a correction: the first date is the trade's.
    try:
        return datetime.strptime(text.strip()[:10], "%m/%d/%Y").replace(tzinfo=UTC)
    except ValueError:
        raise CellError(column, f"{column} must read MM/DD/YYYY, not {text!r}") from None


def _schwab(record: Mapping[str, str]) -> TradeLine | None:
    action = record["Action"].strip().lower()
    if action not in ("buy", "sell"):
        return None  # dividends, interest, transfers: no trade
    return TradeLine(
        executed_at=_schwab_date(record["Date"], "Date"),
        symbol=_symbol(record["Symbol"], "Symbol"),
        side=_side(action, "Action"),
        quantity=_decimal(record["Quantity"], "Quantity", strip=","),
        price=_decimal(record["Price"], "Price", strip="$,"),
    )


_FIELDS = ("executed_at", "symbol", "side", "quantity", "price")
LAYOUTS = {
    "generic": Layout(name="generic", columns={f: f for f in _FIELDS}, read=_generic),
    "ibkr": Layout(
        name="ibkr",
        columns=dict(zip(_FIELDS, ("DateTime", "Symbol", "Buy/Sell", "Quantity", "TradePrice"), strict=True)),
        read=_ibkr,
    ),
    "schwab": Layout(
        name="schwab",
        columns=dict(zip(_FIELDS, ("Date", "Symbol", "Action", "Quantity", "Price"), strict=True)),
        read=_schwab,
        newest_first=True,
    ),
}
