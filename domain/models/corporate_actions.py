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
# A ratio's numerator and denominator: real splits stay far below (a 1-for-1000 reverse split is already rare),
# and a bound keeps quantities and prices within their columns (numeric(28, 8) and numeric(20, 8)) for long.
MAX_RATIO_TERM = 1_000
ActionState = Literal["pending", "applied", "failed"]

# Audit actions (dotted names, as in domain.models.audit).
CORPORATE_ACTION_RECORD = "corporate_action.record"
CORPORATE_ACTION_RUN = "corporate_action.run"
CORPORATE_ACTION_FAIL = "corporate_action.fail"  # an action the run could not apply: marked, never retried


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
    failed_at: datetime | None = None  # the run could not apply it (see `failure`): it is never tried again
    failure: str | None = None

    @property
    def state(self) -> ActionState:
        if self.failed_at is not None:
            return "failed"
        return "pending" if self.applied_at is None else "applied"


class ActionRun(msgspec.Struct, frozen=True, kw_only=True):
    """What one day's run did: the users whose holdings or cash changed, and the quote version a split
    published (None: no split)."""

    splits: int
    holders_recorded: int
    payments: int
    users: tuple[int, ...]
    version: int | None
    failed: int = 0  # actions marked failed (their changes rolled back, the others' kept)


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


def check_ex_date(ex_date: date, last_run: date | None) -> None:
    """Refuse an ex-date a finished run has already passed: its quotes may already be on the new terms (a split
    applied now would divide them again) and its holders of record are gone, so what it means is ambiguous."""
    if last_run is not None and ex_date <= effective_before(last_run):
        first = effective_before(last_run) + timedelta(days=1)
        raise InvalidRequestError(
            f"the market day's run for {last_run} has passed this ex-date: the earliest is {first}", field="ex_date"
        )


def failure_reason(message: str) -> str:
    """What an operator reads about an action the run could not apply (the database's message, one line)."""
    return message.strip().splitlines()[0][:200] if message.strip() else "the action could not be applied"


def corporate_action_target(action_id: int) -> str:
    return f"corporate-action:{action_id}"
