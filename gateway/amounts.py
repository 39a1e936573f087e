"""Amounts in request bodies: exact decimals, declared once and checked as declared.

A quantity or a price arrives as a JSON number or as a string in plain decimal notation. Each
amount type states its bounds and precision here; the OpenAPI document and the check both read
them, so a request the document calls valid is accepted, and one it calls invalid is refused:
400 when a string is not plain decimal notation, 422 naming the field when the value is out of
bounds or too precise (the business rule, as for every other amount the domain refuses).

JSON numbers keep every digit they were sent with: `ExactJSONRequest` reads them as `Decimal`,
where Litestar would read them as floats first (17 significant digits, then rounding).
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.types import TypeDecodersSequence

from domain.errors import InvalidRequestError
from domain.models.trades import QUANTUM
from domain.services.market_data import MAX_PRICE as MAX_QUOTE_PRICE
from domain.services.trades import MAX_PRICE as MAX_TRADE_PRICE
from domain.services.trades import MAX_QUANTITY

DECIMALS = 8  # the ledger keeps 8 decimal places (QUANTUM)
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_EXPECTED = "Expected a decimal number, or a string in plain decimal notation"


class Amount(Decimal):
    """A positive exact decimal below `ceiling` (a power of ten) with at most 8 decimal places."""

    ceiling: ClassVar[Decimal]
    what: ClassVar[str]

    @classmethod
    def pattern(cls) -> str:
        """The strings this amount accepts: plain notation, in bounds, trailing zeros allowed past the 8th place."""
        digits = len(str(int(cls.ceiling))) - 1
        whole = rf"0*[1-9][0-9]{{0,{digits - 1}}}(?:\.[0-9]{{1,{DECIMALS}}}0*)?"
        fraction = rf"0+\.[0-9]{{0,{DECIMALS - 1}}}[1-9]0*"
        return rf"^(?:{whole}|{fraction})$"

    @classmethod
    def schema(cls) -> Schema:
        number = Schema(
            type=OpenAPIType.NUMBER, exclusive_minimum=0, exclusive_maximum=int(cls.ceiling), multiple_of=float(QUANTUM)
        )
        text = Schema(type=OpenAPIType.STRING, pattern=cls.pattern())
        return Schema(
            one_of=[number, text],
            description=f"{cls.what}: an exact decimal above 0 and below {int(cls.ceiling):,}, at most {DECIMALS}"
            " decimal places; a JSON number, or a string in plain decimal notation",
        )

    @classmethod
    def breaks_rules(cls, value: Decimal) -> bool:
        return not value.is_finite() or not 0 < value < cls.ceiling or value != value.quantize(QUANTUM)

    @classmethod
    def check(cls, value: Decimal, field: str) -> Decimal:
        """The value, or InvalidRequestError (422) naming `field` when it breaks the declared bounds."""
        if not value.is_finite() or value <= 0:
            raise InvalidRequestError(f"{field} must be a positive number", field=field)
        if value >= cls.ceiling:
            raise InvalidRequestError(f"{field} must be below {cls.ceiling:,.0f}", field=field)
        if value != value.quantize(QUANTUM):
            raise InvalidRequestError(f"{field} has more than {DECIMALS} decimal places", field=field)
        return Decimal(value)


class Quantity(Amount):
    ceiling = MAX_QUANTITY
    what = "Quantity"


class TradePrice(Amount):
    ceiling = MAX_TRADE_PRICE
    what = "Price per unit"


class QuotePrice(Amount):
    ceiling = MAX_QUOTE_PRICE
    what = "Price"


def _is_amount(target: Any) -> bool:
    return isinstance(target, type) and issubclass(target, Amount)


def _decode_amount(target: type[Amount], value: Any) -> Amount:
    # A ValueError here becomes msgspec's validation error at the field's path: a 400 naming the field.
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return target(value)  # its bounds are checked where the field's name is known (422)
    if not isinstance(value, str):
        raise ValueError(_EXPECTED)
    try:
        number = Decimal(value) if value.isascii() and value == value.strip() and "_" not in value else None
    except InvalidOperation:
        number = None
    if number is None:
        raise ValueError(_EXPECTED)
    if target.breaks_rules(number) or _PLAIN_DECIMAL.fullmatch(value):
        return target(number)
    raise ValueError("Write the amount in plain decimal notation, such as 12.5")


AMOUNT_DECODERS: TypeDecodersSequence = [(_is_amount, _decode_amount)]


def _exact_number(text: str) -> Decimal | int:
    """A JSON number with a fraction or an exponent, digit for digit; a whole one (JSON Schema's integer,
    `2.0` included) as an int, for integer fields. Past 20 digits it stays a Decimal: no int of a billion digits."""
    number = Decimal(text)
    if number == number.to_integral_value() and number.adjusted() < 20:
        return int(number)
    return number


EXACT_JSON = msgspec.json.Decoder(float_hook=_exact_number)


class ExactJSONRequest(Request[Any, Any, Any]):
    """Reads JSON numbers with a fraction or an exponent exactly (see `_exact_number`), never as floats."""

    async def json(self) -> Any:
        try:
            return EXACT_JSON.decode(await self.body() or b"null")
        except msgspec.DecodeError as e:
            raise SerializationException(str(e)) from e
