"""Corporate actions' rules that need no server: ratios as operators write them, and when an action applies."""

from datetime import date
from fractions import Fraction

import pytest

from domain.errors import InvalidRequestError
from domain.models.corporate_actions import check_ex_date, effective_before, parse_ratio, ratio_text


@pytest.mark.parametrize(
    ("text", "ratio", "shown"),
    [("2", Fraction(2), "2"), ("3/2", Fraction(3, 2), "3/2"), ("1/10", Fraction(1, 10), "1/10"), ("4/2", 2, "2")],
)
def test_a_ratio_reads_as_new_shares_per_old_share(text: str, ratio: Fraction, shown: str) -> None:
    assert parse_ratio(text) == ratio
    assert ratio_text(parse_ratio(text)) == shown


@pytest.mark.parametrize("text", ["0", "0/3", "2/0", "1", "3/3", "1.5", "", "2/", "1001", "1/1001", "1000/1001"])
def test_a_ratio_that_changes_nothing_or_is_not_whole_terms_names_ratio(text: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        parse_ratio(text)
    assert refused.value.field == "ratio"


def test_the_largest_terms_are_a_thousand() -> None:
    assert parse_ratio("1000") == 1000
    assert parse_ratio("1/1000") == Fraction(1, 1000)


def test_an_ex_date_a_run_has_passed_names_ex_date() -> None:
    check_ex_date(date(2027, 1, 2), date(2026, 12, 31))  # the run for Dec 31 applied Jan 1's ex-dates only
    check_ex_date(date(2020, 1, 1), None)  # no run yet: nothing has passed
    with pytest.raises(InvalidRequestError) as refused:
        check_ex_date(date(2027, 1, 1), date(2026, 12, 31))
    assert refused.value.field == "ex_date"


def test_the_run_at_a_days_close_applies_the_next_days_ex_date() -> None:
    assert effective_before(date(2026, 12, 31)) == date(2027, 1, 1)
