"""The in-memory twin of the corporate action store, over the quote, holdings and ledger twins: the same rules
as the SQL (domain/adapters/postgres/corporate_actions.py), down to the 8 places and the columns' bounds."""

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import msgspec

from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.ledger import InMemoryLedger
from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.errors import InvalidRequestError, UnknownSymbolError
from domain.models.audit import AuditEntry
from domain.models.corporate_actions import (
    CORPORATE_ACTION_FAIL,
    ActionRun,
    CorporateAction,
    CorporateActionDraft,
    check_ex_date,
    corporate_action_target,
    effective_before,
)
from domain.models.holdings import Holding
from domain.models.ledger import EntryDraft, Posting
from domain.models.quotes import DailyClose, Quote
from domain.models.trades import QUANTUM
from domain.ports.corporate_actions import CorporateActionStore

# The columns' bounds: numeric(28, 8) for quantities and amounts, numeric(20, 8) for prices and costs.
QUANTITY_BOUND, PRICE_BOUND = Decimal(10) ** 20, Decimal(10) ** 12
OVERFLOW = "numeric field overflow"  # PostgreSQL's words


class _OverflowError(Exception):
    pass


@dataclass
class _Payment:
    action_id: int
    user_id: int
    amount: Decimal
    paid: bool = False


@dataclass
class _State:
    actions: dict[int, CorporateAction] = field(default_factory=dict)
    payments: list[_Payment] = field(default_factory=list)
    runs: set[date] = field(default_factory=set)


class InMemoryCorporateActionStore(CorporateActionStore):
    def __init__(
        self, quotes: InMemoryQuoteRepository, holdings: InMemoryHoldingsRepository, ledger: InMemoryLedger
    ) -> None:
        self.quotes = quotes
        self.holdings = holdings
        self.ledger = ledger  # over the same holdings (it books the dividends)
        self.state = _State()

    async def record(self, draft: CorporateActionDraft, *, audit: AuditEntry) -> CorporateAction:
        check_ex_date(draft.ex_date, max(self.state.runs, default=None))
        found = next((i for i in self.quotes.instruments.values() if i.symbol == draft.symbol), None)
        if found is None:
            raise UnknownSymbolError(draft.symbol)
        if found.asset_class == "cash":
            raise InvalidRequestError(
                f"{draft.symbol} is a currency's quote: it has no corporate actions", field="symbol"
            )
        action = CorporateAction(
            id=len(self.state.actions) + 1, kind=draft.kind, symbol=found.symbol, currency=found.currency,
            ex_date=draft.ex_date, created_at=self.quotes.clock.now(), ratio=draft.ratio,
            amount_per_share=draft.amount_per_share, pay_date=draft.pay_date,
        )  # fmt: skip
        self.state.actions[action.id] = action
        self.quotes.audit.record(audit.completed(target=corporate_action_target(action.id)))
        return action

    async def list(self, *, limit: int) -> tuple[CorporateAction, ...]:
        newest = sorted(self.state.actions.values(), key=lambda a: a.id, reverse=True)[:limit]
        return tuple(msgspec.structs.replace(a, paid=self._paid(a.id)) for a in newest)

    async def run(self, day: date, *, audit: AuditEntry) -> ActionRun | None:
        if day in self.state.runs:
            return None
        self.state.runs.add(day)
        failed_before = sum(a.failed_at is not None for a in self.state.actions.values())
        paid = self._pay_due(day, audit)
        users, splits, recorded, quoted = self._apply_pending(effective_before(day), audit)
        version = self.quotes.publish() if quoted else None
        failed = sum(a.failed_at is not None for a in self.state.actions.values()) - failed_before
        self.quotes.audit.record(
            audit.completed(
                splits=splits, holders_recorded=recorded, payments=len(paid), failed=failed, version=version
            )
        )
        return ActionRun(
            splits=splits, holders_recorded=recorded, payments=len(paid), users=tuple(sorted({*paid, *users})),
            version=version, failed=failed,
        )  # fmt: skip

    def _paid(self, action_id: int) -> int:
        return sum(p.paid for p in self.state.payments if p.action_id == action_id)

    def _fail(self, action_id: int, audit: AuditEntry) -> None:
        action = self.state.actions[action_id]
        now = self.quotes.clock.now()
        self.state.actions[action_id] = msgspec.structs.replace(action, failed_at=now, failure=OVERFLOW)
        entry = AuditEntry(
            actor=audit.actor, action=CORPORATE_ACTION_FAIL, target=corporate_action_target(action_id),
            request_id=audit.request_id, change={"reason": OVERFLOW},
        )  # fmt: skip
        self.quotes.audit.record(entry)

    def _pay_due(self, day: date, audit: AuditEntry) -> tuple[int, ...]:
        actions = self.state.actions
        due = [
            p for p in self.state.payments
            if not p.paid and actions[p.action_id].failed_at is None and (actions[p.action_id].pay_date or day) <= day
        ]  # fmt: skip
        paid = []
        for p in sorted(due, key=lambda p: (p.user_id, p.action_id)):
            if p.user_id not in self.holdings.users or actions[p.action_id].failed_at is not None:
                continue
            currency = actions[p.action_id].currency
            cash = self.ledger.cash.get(p.user_id, {}).get(currency, Decimal(0))
            if abs(cash + p.amount) >= QUANTITY_BOUND:
                self._fail(p.action_id, audit)
                continue
            postings = (
                Posting(account="cash", currency=currency, amount=p.amount),
                Posting(account="market", currency=currency, amount=-p.amount),
            )
            self.ledger.post(p.user_id, [EntryDraft(kind="dividend", postings=postings)])
            p.paid = True
            paid.append(p.user_id)
        return tuple(paid)

    def _apply_pending(self, through: date, audit: AuditEntry) -> tuple[tuple[int, ...], int, int, int]:
        pending = sorted(
            (a for a in self.state.actions.values() if a.applied_at is None and a.failed_at is None),
            key=lambda a: (a.ex_date, a.id),
        )
        users: list[int] = []
        splits = recorded = quoted = 0
        for action in (a for a in pending if a.ex_date <= through):
            try:
                if action.kind == "split":
                    held, changed = self._split(action)
                    users.extend(held)
                    splits, quoted = splits + 1, quoted + changed
                else:
                    recorded += self._record_holders(action)
            except _OverflowError:
                self._fail(action.id, audit)
                continue
            now = self.quotes.clock.now()
            self.state.actions[action.id] = msgspec.structs.replace(action, applied_at=now)
        return tuple(users), splits, recorded, quoted

    def _split(self, action: CorporateAction) -> tuple[tuple[int, ...], int]:
        """Everything computed first, then stored: an overflow changes nothing (the savepoint's rollback)."""
        assert action.ratio is not None
        ratio, iid = action.ratio, self._instrument_id(action.symbol)
        held = {u: mine[iid] for u, mine in self.holdings.holdings.items() if iid in mine}
        lots = {
            u: Holding(
                instrument_id=iid,
                quantity=_scaled(h.quantity, ratio, QUANTITY_BOUND),
                average_cost=_scaled(h.average_cost, 1 / ratio, PRICE_BOUND),
            )
            for u, h in held.items()
        }
        closes = [
            c if c.day >= action.ex_date else DailyClose(day=c.day, close=_price(c.close, ratio))
            for c in self.quotes.closes.get(iid, [])
        ]
        quote = self.quotes.quotes.get(iid)
        new_quote = None if quote is None else _split_quote(quote, ratio)
        for user_id, lot in lots.items():
            self.holdings.holdings[user_id][iid] = lot
        if iid in self.quotes.closes:
            self.quotes.closes[iid] = closes
        if new_quote is not None:
            self.quotes.quotes[iid] = new_quote
        return tuple(sorted(lots)), int(new_quote is not None)

    def _record_holders(self, action: CorporateAction) -> int:
        assert action.amount_per_share is not None
        iid, known = self._instrument_id(action.symbol), {(p.action_id, p.user_id) for p in self.state.payments}
        count = 0
        for user_id, mine in sorted(self.holdings.holdings.items()):
            lot = mine.get(iid)
            if lot is None or user_id not in self.holdings.users or (action.id, user_id) in known:
                continue
            amount = _quantize(lot.quantity * action.amount_per_share, QUANTITY_BOUND)
            if amount > 0:
                self.state.payments.append(_Payment(action_id=action.id, user_id=user_id, amount=amount))
                count += 1
        return count

    def _instrument_id(self, symbol: str) -> int:
        return next(i.id for i in self.quotes.instruments.values() if i.symbol == symbol)


def _quantize(value: Decimal, bound: Decimal) -> Decimal:
    rounded = value.quantize(QUANTUM, rounding=ROUND_HALF_UP)  # SQL's round(x, 8)
    if abs(rounded) >= bound:
        raise _OverflowError()
    return rounded


def _scaled(value: Decimal, factor: Fraction, bound: Decimal) -> Decimal:
    with localcontext(prec=80):  # exact enough for 28 digits times a ratio, as SQL's numeric
        return _quantize(value * factor.numerator / factor.denominator, bound)


def _price(value: Decimal, ratio: Fraction) -> Decimal:
    """A price on the split's terms: never rounded down to nothing (the columns keep prices positive)."""
    return max(_scaled(value, 1 / ratio, PRICE_BOUND), QUANTUM)


def _split_quote(q: Quote, ratio: Fraction) -> Quote:
    return msgspec.structs.replace(
        q,
        price=_price(q.price, ratio),
        bid=_price(q.bid, ratio),
        ask=_price(q.ask, ratio),
        previous_close=_price(q.previous_close, ratio),
        day_high=_scaled(q.day_high, 1 / ratio, PRICE_BOUND),
        day_low=_scaled(q.day_low, 1 / ratio, PRICE_BOUND),
    )
