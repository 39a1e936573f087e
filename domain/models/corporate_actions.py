"""Corporate actions: splits (and reverse splits) and cash dividends, recorded by an operator and applied by
the market day's `corporate_actions` job.

When each takes effect: the job run for day D (at D's close) applies every split whose ex-date is D + 1 or
earlier (the ex-date opens on split prices), records the holders of every dividend whose ex-date is D + 1 or
earlier (those holding at the close before the ex-date are entitled), and pays every recorded holder whose
dividend's pay date is D or earlier. Each action is applied once; each (dividend, user) is paid once.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import msgspec

from domain.errors import InvalidRequestError

ActionKind = Literal["split", "dividend"]
MAX_RATIO_TERM = 1_000_000  # a ratio's numerator and denominator (a 1,000,000-for-1 split is already absurd)

# Audit actions (dotted names, as in domain.models.audit).
CORPORATE_ACTION_RECORD = "corporate_action.record"
CORPORATE_ACTION_RUN = "corporate_action.run"


class CorporateActionDraft(msgspec.Struct, frozen=True, kw_only=True):
    """What an operator asks for: `ratio` for a split (new shares per old share), `amount_per_share` and
    `pay_date` for a dividend."""

    kind: ActionKind
    symbol: str
    ex_date: date
    ratio: Fraction | None = None
    amount_per_share: Decimal | None = None
    pay_date: date | None = None


class CorporateAction(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: ActionKind
    symbol: str
    currency: str
    ex_date: date
    created_at: datetime
    ratio: Fraction | None = None
    amount_per_share: Decimal | None = None
    pay_date: date | None = None
    applied_at: datetime | None = None  # a split applied, a dividend's holders recorded
    paid: int = 0  # a dividend's holders paid so far


class ActionRun(msgspec.Struct, frozen=True, kw_only=True):
    """What one day's run did: the users whose holdings or cash changed, and the quote version a split
    published (None: no split)."""

    splits: int
    holders_recorded: int
    payments: int
    users: tuple[int, ...]
    version: int | None


def parse_ratio(text: str) -> Fraction:
    """`"2"` (2-for-1), `"3/2"` (3-for-2) or `"1/10"` (a 1-for-10 reverse split): positive whole terms."""
    top, slash, bottom = text.strip().partition("/")
    try:
        numerator, denominator = int(top), int(bottom) if slash else 1
    except ValueError:
        raise InvalidRequestError("a ratio is N or N/M in whole numbers, such as 2 or 1/10", field="ratio") from None
    if not (0 < numerator <= MAX_RATIO_TERM and 0 < denominator <= MAX_RATIO_TERM):
        raise InvalidRequestError(f"a ratio's terms are between 1 and {MAX_RATIO_TERM}", field="ratio")
    ratio = Fraction(numerator, denominator)
    if ratio == 1:
        raise InvalidRequestError("a ratio of 1 changes nothing", field="ratio")
    return ratio


def ratio_text(ratio: Fraction) -> str:
    return str(ratio.numerator) if ratio.denominator == 1 else f"{ratio.numerator}/{ratio.denominator}"


def effective_before(day: date) -> date:
    """The newest ex-date whose action the run for `day` applies (the ex-date opens after that close)."""
    return day + timedelta(days=1)


def corporate_action_target(action_id: int) -> str:
    return f"corporate-action:{action_id}"
