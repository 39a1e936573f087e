"""Amounts in request bodies: the declared pattern and the check accept exactly the same strings."""

import base64
import itertools
import random
import re
from decimal import Decimal

import pytest
from litestar.exceptions import ValidationException

from domain.errors import InvalidRequestError
from gateway.amounts import AMOUNT_DECODERS, EXACT_JSON, Amount, Quantity, QuotePrice, TradePrice
from gateway.trade_schemas import CURSOR_PATTERN, decode_cursor, encode_cursor

_, DECODE = AMOUNT_DECODERS[0]


def accepted(kind: type[Amount], text: str) -> bool:
    """What the server does with a string amount: decode it (400 if malformed), then check it (422)."""
    try:
        kind.check(DECODE(kind, text), "quantity")
    except (ValueError, InvalidRequestError):
        return False
    return True


@pytest.mark.parametrize("kind", [Quantity, TradePrice, QuotePrice])
def test_every_short_string_is_accepted_exactly_when_it_matches_the_declared_pattern(kind):
    pattern = re.compile(kind.pattern())
    alphabet = "0159.-e "
    for length in range(1, 6):
        for chars in itertools.product(alphabet, repeat=length):
            text = "".join(chars)
            assert bool(pattern.match(text)) == accepted(kind, text), text


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("999999999999.99999999", True),  # the largest quantity
        ("1000000000000", False),
        ("0.00000001", True),
        ("0.000000010000", True),  # trailing zeros past the 8th place are the same value
        ("0.000000001", False),
        ("000123.4", True),
        ("1e3", False),
        ("+5", False),
        ("5.", False),
        (".5", False),
        ("\u0661", False),  # ARABIC-INDIC DIGIT ONE: a digit, but not an ASCII one
        ("1_000", False),
        (" 1", False),
        ("NaN", False),
    ],
)
def test_quantity_strings_at_the_edges(text, ok):
    assert bool(re.match(Quantity.pattern(), text)) == ok == accepted(Quantity, text)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("0", "quantity must be a positive number"),
        ("-1", "quantity must be a positive number"),
        ("1e12", "quantity must be below 1,000,000,000,000"),
        ("1e-9", "quantity has more than 8 decimal places"),
    ],
)
def test_numbers_out_of_bounds_are_422_naming_the_field(number, message):
    with pytest.raises(InvalidRequestError) as refused:
        Quantity.check(DECODE(Quantity, EXACT_JSON.decode(number.encode())), "quantity")
    assert (refused.value.field, refused.value.detail) == ("quantity", message)


def test_json_numbers_keep_every_digit_and_whole_ones_are_integers():
    decoded = EXACT_JSON.decode(b"[123456789012.12345678, 1e-8, 15017.0, 1e999999999, true]")
    assert decoded == [Decimal("123456789012.12345678"), Decimal("1e-8"), 15017, Decimal("1e999999999"), True]
    assert isinstance(decoded[2], int)


def test_a_boolean_is_not_an_amount():
    with pytest.raises(ValueError, match="Expected a decimal number"):
        DECODE(Quantity, True)


def test_every_cursor_of_the_declared_shape_is_a_position_and_no_other_string_is():
    for before in (1, 2, 12345, 2**60, 2**63 - 1):
        cursor = encode_cursor(before)
        assert cursor is not None
        assert re.match(CURSOR_PATTERN, cursor)
        assert decode_cursor(cursor) == before
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    rng = random.Random(7)
    for first, second in itertools.product(alphabet + "+/=", repeat=2):
        cursor = first + second + "".join(rng.choice(alphabet) for _ in range(10))
        if re.match(CURSOR_PATTERN, cursor):
            assert decode_cursor(cursor) == max(int.from_bytes(base64.urlsafe_b64decode(cursor)[1:]), 1)
        else:
            with pytest.raises(ValidationException, match="not one this API gave out"):
                decode_cursor(cursor)
