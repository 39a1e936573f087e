"""Corporate actions on the wire: what an operator sends to record a split or a dividend, and what they read."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from domain.errors import InvalidRequestError
from domain.models.corporate_actions import CorporateAction, CorporateActionDraft, parse_ratio, ratio_text
from gateway.amounts import Amount
from gateway.trade_schemas import Symbol

RATIO_PATTERN = r"^[0-9]{1,7}(/[0-9]{1,7})?$"
Ratio = Annotated[
    str,
    msgspec.Meta(
        pattern=RATIO_PATTERN,
        description="New shares per old share: `2` (2-for-1), `3/2` (3-for-2), `1/10` (a 1-for-10 reverse split);"
        " whole terms from 1 to 1,000, not 1",
        examples=["2", "1/10"],
    ),
]


class PerShare(Amount):
    ceiling = Decimal("1e9")
    what = "Cash per share, in the instrument's currency"


class CorporateActionIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: Literal["split", "dividend"]
    symbol: Symbol
    ex_date: date  # the first day the shares trade without the split's old terms or the dividend
    ratio: Ratio | None = None  # splits only
    amount_per_share: PerShare | None = None  # dividends only
    pay_date: date | None = None  # dividends only: on or after ex_date

    def to_domain(self) -> CorporateActionDraft:
        if self.type == "split":
            _absent(("amount_per_share", self.amount_per_share), ("pay_date", self.pay_date))
            if self.ratio is None:
                raise InvalidRequestError("a split needs a ratio", field="ratio")
            return CorporateActionDraft(
                kind="split", symbol=self.symbol, ex_date=self.ex_date, ratio=parse_ratio(self.ratio)
            )
        _absent(("ratio", self.ratio))
        if self.amount_per_share is None:
            raise InvalidRequestError("a dividend needs an amount_per_share", field="amount_per_share")
        if self.pay_date is None:
            raise InvalidRequestError("a dividend needs a pay_date", field="pay_date")
        return CorporateActionDraft(
            kind="dividend",
            symbol=self.symbol,
            ex_date=self.ex_date,
            amount_per_share=PerShare.check(self.amount_per_share, "amount_per_share"),
            pay_date=self.pay_date,
        )


def _absent(*fields: tuple[str, object]) -> None:
    for name, value in fields:
        if value is not None:
            raise InvalidRequestError(f"{name} does not belong to this type of action", field=name)


class CorporateActionOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    type: Literal["split", "dividend"]
    symbol: str
    currency: str  # the instrument's: a dividend is paid in it
    ex_date: date
    ratio: str | None  # splits: as sent, reduced (`4/2` reads `2`)
    amount_per_share: Decimal | None  # dividends
    pay_date: date | None  # dividends
    created_at: datetime
    applied_at: datetime | None  # a split applied, or a dividend's holders recorded; None: not yet
    payments: int  # a dividend's holders paid so far
    state: Literal["pending", "applied", "failed"]
    failure: str | None  # why the run could not apply it (state `failed`)


class CorporateActionsOut(msgspec.Struct, frozen=True, kw_only=True):
    items: list[CorporateActionOut]


def action_out(action: CorporateAction) -> CorporateActionOut:
    return CorporateActionOut(
        id=action.id,
        type=action.kind,
        symbol=action.symbol,
        currency=action.currency,
        ex_date=action.ex_date,
        ratio=None if action.ratio is None else ratio_text(action.ratio),
        amount_per_share=action.amount_per_share,
        pay_date=action.pay_date,
        created_at=action.created_at,
        applied_at=action.applied_at,
        payments=action.paid,
        state=action.state,
        failure=action.failure,
    )
