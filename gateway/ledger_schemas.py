"""Cash on the wire: a deposit or withdrawal a client sends, and the ledger's entries and balances it reads."""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from domain.errors import InvalidRequestError
from domain.models.ledger import MAX_CASH, Account, Balance, BookResult, CashMove, Entry, EntryKind, LedgerPage
from gateway.amounts import Amount
from gateway.trade_schemas import encode_cursor

CURRENCY_PATTERN = r"^[A-Z]{3}$"
_CURRENCY = re.compile(r"[A-Z]{3}")
Currency = Annotated[str, msgspec.Meta(pattern=CURRENCY_PATTERN, description="An ISO 4217 code, such as EUR")]


class CashAmount(Amount):
    ceiling = Decimal("1e15")
    what = "Amount of cash"


assert CashAmount.ceiling < MAX_CASH


def currency_of(value: str, field: str = "currency") -> str:
    """The code, or InvalidRequestError naming `field` (the pattern's `$` lets a final newline through)."""
    if not _CURRENCY.fullmatch(value):
        raise InvalidRequestError("a currency is three capital letters, such as EUR", field=field)
    return value


class CashIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: Literal["deposit", "withdrawal"]
    amount: CashAmount
    currency: Currency

    def to_domain(self) -> CashMove:
        amount = CashAmount.check(self.amount, "amount")
        return CashMove(kind=self.type, amount=amount, currency=currency_of(self.currency))


class PostingOut(msgspec.Struct, frozen=True):
    account: Account
    currency: str
    amount: Decimal  # into the account when positive, out of it when negative


class EntryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    kind: EntryKind
    trade_id: int | None
    booked_at: datetime
    postings: list[PostingOut]


class BalanceOut(msgspec.Struct, frozen=True):
    currency: str
    amount: Decimal


class CashOut(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    entry: EntryOut
    cash: list[BalanceOut]  # every currency the user has held, after this entry


class LedgerPageOut(msgspec.Struct, frozen=True):
    items: list[EntryOut]
    next_cursor: str | None


def entry_out(entry: Entry) -> EntryOut:
    return EntryOut(
        id=entry.id,
        user_id=entry.user_id,
        kind=entry.kind,
        trade_id=entry.trade_id,
        booked_at=entry.booked_at,
        postings=[PostingOut(p.account, p.currency, p.amount) for p in entry.postings],
    )


def balances_out(balances: tuple[Balance, ...]) -> list[BalanceOut]:
    return [BalanceOut(b.currency, b.amount) for b in balances]


def cash_out(user_id: int, result: BookResult) -> CashOut:
    return CashOut(user_id=user_id, entry=entry_out(result.entries[0]), cash=balances_out(result.balances))


def ledger_page_out(page: LedgerPage) -> LedgerPageOut:
    return LedgerPageOut(items=[entry_out(e) for e in page.items], next_cursor=encode_cursor(page.next_before))
