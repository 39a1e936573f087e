"""The cash ledger: entries of balanced postings, and the rules that make a trade's settlement.

Accounts: `cash` is the user's cash in a currency (its balance is stored and never negative); the others
are counter-accounts, outside the user: `bank` (the user's own bank, for deposits and withdrawals),
`market` (the market's settlement of trades), `fees` (Folio's fee income) and `fx` (currency conversion).
An entry's postings sum to zero in each currency: money only moves, it never appears or vanishes.
"""

from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Literal

import msgspec

from domain.errors import InsufficientCashError, InvalidRequestError
from domain.models.trades import QUANTUM, Order

EntryKind = Literal["deposit", "withdrawal", "trade", "fee", "dividend", "interest", "fx"]
Account = Literal["cash", "bank", "market", "fees", "fx"]
CashMoveKind = Literal["deposit", "withdrawal"]
ZERO = Decimal(0)
BPS = Decimal(10_000)
MAX_CASH = Decimal("1e20")  # what a balance can record (numeric(28, 8))


class Posting(msgspec.Struct, frozen=True, kw_only=True):
    account: Account
    currency: str
    amount: Decimal  # positive: into the account; negative: out of it


class EntryDraft(msgspec.Struct, frozen=True, kw_only=True):
    """An entry to book: balanced per currency (checked when made) and not yet recorded."""

    kind: EntryKind
    postings: tuple[Posting, ...]
    trade_id: int | None = None

    def __post_init__(self) -> None:
        if not self.postings or not all(p.amount for p in self.postings):
            raise ValueError("an entry needs postings, none of them zero")
        totals: dict[str, Decimal] = {}
        for p in self.postings:
            totals[p.currency] = totals.get(p.currency, ZERO) + p.amount
        if any(totals.values()):
            raise ValueError(f"a {self.kind} entry does not balance: {totals}")

    def cash(self) -> dict[str, Decimal]:
        """What the entry moves into (positive) or out of the user's cash, per currency."""
        moves: dict[str, Decimal] = {}
        for p in self.postings:
            if p.account == "cash":
                moves[p.currency] = moves.get(p.currency, ZERO) + p.amount
        return moves


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    kind: EntryKind
    postings: tuple[Posting, ...]
    booked_at: datetime
    trade_id: int | None = None


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    amount: Decimal


class BookResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a booking recorded, and the user's cash balances after it."""

    entries: tuple[Entry, ...]
    balances: tuple[Balance, ...]
    replayed: bool = False


class LedgerPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[Entry, ...]
    next_before: int | None


class CashMove(msgspec.Struct, frozen=True, kw_only=True):
    """A deposit from, or a withdrawal to, the user's bank."""

    kind: CashMoveKind
    amount: Decimal
    currency: str

    def draft(self) -> EntryDraft:
        signed = self.amount if self.kind == "deposit" else -self.amount
        return _transfer(self.kind, self.currency, signed, "bank")


class FeePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """A trade's fee: `bps` basis points of its gross amount, at least `minimum` (in the trade's currency)."""

    bps: Decimal = ZERO
    minimum: Decimal = ZERO

    def fee(self, gross: Decimal) -> Decimal:
        return max((gross * self.bps / BPS).quantize(QUANTUM, ROUND_CEILING), self.minimum)


class FxRates(msgspec.Struct, frozen=True, kw_only=True):
    """What one unit of each currency costs in `base`: AUTO_FX converts a shortfall at these rates."""

    base: str
    rates: dict[str, Decimal]


class Settlement(msgspec.Struct, frozen=True, kw_only=True):
    """How a trade executes and settles in cash: at `price` (TRADE_PRICE_POLICY=market: the quote's; None: the
    order's), with its fee, and (AUTO_FX) the rates a shortfall converts at (None: refused)."""

    fees: FeePolicy = FeePolicy()
    fx: FxRates | None = None
    price: Decimal | None = None

    def executed(self, order: Order) -> Order:
        return order if self.price is None else msgspec.structs.replace(order, price=self.price)


CASH = Settlement()  # quantity x price, no fee, no conversion


def _transfer(
    kind: EntryKind, currency: str, into_cash: Decimal, counter: Account, trade_id: int | None = None
) -> EntryDraft:
    return EntryDraft(
        kind=kind,
        trade_id=trade_id,
        postings=(
            Posting(account="cash", currency=currency, amount=into_cash),
            Posting(account=counter, currency=currency, amount=-into_cash),
        ),
    )


def gross_and_fee(order: Order, fees: FeePolicy) -> tuple[Decimal, Decimal]:
    """Quantity x price (rounded to the ledger's 8 places), and the fee on it."""
    gross = (order.quantity * order.price).quantize(QUANTUM)
    return gross, fees.fee(gross)


def settlement(order: Order, currency: str, fees: FeePolicy, trade_id: int) -> tuple[EntryDraft, ...]:
    """A trade's entries: the gross amount against the market, then the fee (if any) to Folio.

    A buy pays quantity x price, a sell receives it; the fee is paid either way. An amount that rounds to
    zero at the ledger's 8 places moves no cash (and books no entry).
    """
    gross, fee = gross_and_fee(order, fees)
    signed = -gross if order.side == "buy" else gross
    entries = [_transfer("trade", currency, signed, "market", trade_id)] if gross else []
    if fee:
        entries.append(_transfer("fee", currency, -fee, "fees", trade_id))
    return tuple(entries)


def conversion(shortfall: Decimal, currency: str, fx: FxRates, trade_id: int | None) -> EntryDraft:
    """Base currency into `currency`: exactly `shortfall` arrives, its cost in base rounded up."""
    cost = (shortfall * fx.rates[currency]).quantize(QUANTUM, ROUND_CEILING)
    return EntryDraft(
        kind="fx",
        trade_id=trade_id,
        postings=(
            Posting(account="cash", currency=fx.base, amount=-cost),
            Posting(account="fx", currency=fx.base, amount=cost),
            Posting(account="fx", currency=currency, amount=-shortfall),
            Posting(account="cash", currency=currency, amount=shortfall),
        ),
    )


def apply_cash(
    balances: dict[str, Decimal], drafts: tuple[EntryDraft, ...], fx: FxRates | None = None, trade_id: int | None = None
) -> tuple[tuple[EntryDraft, ...], dict[str, Decimal]]:
    """The drafts to book (with an fx conversion first, when `fx` is given and a currency falls short) and
    the balances after them; InvalidRequestError naming `amount` when cash would go negative."""
    moves: dict[str, Decimal] = {}
    for draft in drafts:
        for currency, amount in draft.cash().items():
            moves[currency] = moves.get(currency, ZERO) + amount
    after = {c: balances.get(c, ZERO) + moves.get(c, ZERO) for c in {*balances, *moves}}
    if fx is not None:
        short = {c: -v for c, v in after.items() if v < 0 and c != fx.base and fx.rates.get(c)}
        converted = tuple(conversion(s, c, fx, trade_id) for c, s in sorted(short.items()))
        if converted:
            return apply_cash(balances, converted + drafts)
    for currency, value in sorted(after.items()):
        if value < 0:
            held = balances.get(currency, ZERO)
            raise InsufficientCashError(currency, held=held, needed=held - value)
        if value >= MAX_CASH:
            raise InvalidRequestError(f"a cash balance must stay below {MAX_CASH:,.0f}", field="amount")
    return drafts, after
