"""CSV cells a spreadsheet reads as data: text that looks like a formula is quoted, numbers stay numbers."""

import csv
import io
from decimal import Decimal

import pytest

from gateway.csv_documents import csv_lines, number_cell, text_cell


@pytest.mark.parametrize("text", ["=1+2", "+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_a_spreadsheet_would_run_gets_a_quote_in_front(text):
    assert text_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["AAPL", "BRK.B", "Acme = Co", "", "7203.T"])
def test_other_text_is_left_as_it_is(text):
    assert text_cell(text) == text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (Decimal("-41.00"), "-41.00"),
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("1.5E+3"), "1500"),
        (Decimal("-0"), "0"),
        (Decimal("1234567.89"), "1234567.89"),
    ],
)
def test_numbers_are_plain_decimals_with_a_point_and_negatives_keep_their_sign(value, cell):
    assert number_cell(value) == cell


def test_cells_with_commas_quotes_and_newlines_survive_a_round_trip():
    rows = [("a,b", 'say "hi"', "two\nlines", "é€")]
    encoded = csv_lines(rows)
    assert encoded.endswith(b"\r\n")
    assert [tuple(r) for r in csv.reader(io.StringIO(encoded.decode("utf-8"), newline=""))] == rows
