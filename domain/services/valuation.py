"""Valuation: holdings priced at one quote snapshot, totals and weights in the base currency.

This runs once per (user, holdings, quote version) on the read path, so it is written as one
pass over the holdings. `priced` is the pricing rule the reports' analytics share. The live streams
value in the same steps (`value_line`, `cash_lines`, `totals`, `weight`, `portfolio_of`), keeping the
lines whose quotes did not move, so both answer the same figures.
"""

from collections.abc import Iterable, Sequence
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import NamedTuple, Protocol

from domain.models.holdings import Cash, Holding, Holdings, Portfolio, ValuedCash, ValuedHolding
from domain.models.quotes import Instrument, QuoteSnapshot

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)
ONE = Decimal(1)
_by_value = itemgetter(0)
_value_base, _previous_base, _cost_base = attrgetter("value_base"), attrgetter("previous_base"), attrgetter("cost_base")


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    return (part * HUNDRED / whole).quantize(CENT) if whole else ZERO


def priced(holding: Holding, snapshot: QuoteSnapshot) -> tuple[Instrument, Decimal, Decimal] | None:
    """The one pricing rule for a holding: its instrument, its price (the quote's; the average cost for
    an instrument never quoted, rather than zero) and its rate into the base currency; None for an
    instrument the snapshot does not list."""
    inst = snapshot.instruments.get(holding.instrument_id)
    if inst is None:
        return None
    quote = snapshot.quotes.get(holding.instrument_id)
    price = quote.price if quote is not None else holding.average_cost
    return inst, price, snapshot.fx_to_base.get(inst.currency, ONE)


class Line(NamedTuple):
    value_base: Decimal  # unrounded, for the sort and the totals
    previous_base: Decimal
    cost_base: Decimal
    holding: Holding
    inst: Instrument
    price: Decimal
    market_value: Decimal
    cost_basis: Decimal
    previous_value: Decimal  # at the previous close, in the instrument's currency


def value_line(h: Holding, snapshot: QuoteSnapshot) -> Line | None:
    found = priced(h, snapshot)
    if found is None:
        return None
    inst, price, fx = found
    quote = snapshot.quotes.get(h.instrument_id)
    previous = quote.previous_close if quote is not None else price  # never quoted: no change
    market_value = h.quantity * price
    previous_value = h.quantity * previous
    cost_basis = h.quantity * h.average_cost
    return Line(
        market_value * fx, previous_value * fx, cost_basis * fx, h, inst, price, market_value.quantize(CENT),
        cost_basis.quantize(CENT), previous_value.quantize(CENT),
    )  # fmt: skip


def valued_holding(line: Line, weight: Decimal) -> ValuedHolding:
    h, market_value, cost_basis, previous_value = line.holding, line.market_value, line.cost_basis, line.previous_value
    return ValuedHolding(
        symbol=line.inst.symbol,
        name=line.inst.name,
        asset_class=line.inst.asset_class,
        currency=line.inst.currency,
        quantity=h.quantity,
        average_cost=h.average_cost,
        price=line.price,
        market_value=market_value,
        cost_basis=cost_basis,
        unrealized_pnl=market_value - cost_basis,
        unrealized_pnl_pct=_percent(market_value - cost_basis, cost_basis),
        day_change=market_value - previous_value,
        day_change_pct=_percent(market_value - previous_value, previous_value),
        market_value_base=line.value_base.quantize(CENT),
        weight=weight,
    )


class Based(Protocol):
    """A line's unrounded figures in the base currency: what the totals are summed from."""

    @property
    def value_base(self) -> Decimal: ...
    @property
    def previous_base(self) -> Decimal: ...
    @property
    def cost_base(self) -> Decimal: ...


class Totals(NamedTuple):
    value: Decimal
    previous: Decimal
    cost: Decimal
    cash: Decimal


def weights(values: Iterable[Decimal], total_value: Decimal) -> list[Decimal]:
    """`_percent` of each of `values` in `total_value`, in one pass (the streams weigh every line each round)."""
    if not total_value:
        return [ZERO for _ in values]
    return [(value * HUNDRED / total_value).quantize(CENT) for value in values]


def cash_lines(holdings: Holdings, snapshot: QuoteSnapshot) -> list[tuple[Cash, Decimal]]:
    """Each cash balance with its value in the base currency, rounded to the cent."""
    return [(c, (c.amount * snapshot.fx_to_base.get(c.currency, ONE)).quantize(CENT)) for c in holdings.cash]


def totals(lines: Sequence[Based], cash_bases: Iterable[Decimal]) -> Totals:
    """The totals of `lines` (sorted as the portfolio lists them) and the cash, each rounded to the cent."""
    total_cash = sum(cash_bases, ZERO)
    return Totals(
        sum(map(_value_base, lines), ZERO).quantize(CENT) + total_cash,
        sum(map(_previous_base, lines), ZERO).quantize(CENT) + total_cash,
        sum(map(_cost_base, lines), ZERO).quantize(CENT) + total_cash,
        total_cash,
    )


def portfolio_of(
    user_id: int,
    snapshot: QuoteSnapshot,
    sums: Totals,
    holdings: tuple[ValuedHolding, ...] = (),
    cash: tuple[ValuedCash, ...] = (),
) -> Portfolio:
    value, previous, cost = sums.value, sums.previous, sums.cost
    return Portfolio(
        user_id=user_id,
        base_currency=snapshot.base_currency,
        quotes_version=snapshot.version,
        quotes_as_of=snapshot.as_of,
        total_market_value=value,
        total_cost_basis=cost,
        total_unrealized_pnl=value - cost,
        total_unrealized_pnl_pct=_percent(value - cost, cost),
        total_day_change=value - previous,
        total_day_change_pct=_percent(value - previous, previous),
        holdings=holdings,
        total_cash=sums.cash,
        cash=cash,
    )


def value_holdings(holdings: Holdings, snapshot: QuoteSnapshot) -> Portfolio:
    """Value every holding at the snapshot's price, and the cash at its rate; totals and weights in the base
    currency, cash included (in the cost basis too, at its value: it is not a position that gains or loses).
    The day's change is against each quote's previous close (the last daily close the market day recorded);
    cash does not change in a day.

    Money is rounded to the cent before differences and totals are taken, so a client's own sums
    agree to the cent.
    """
    lines = [line for h in holdings.items if (line := value_line(h, snapshot)) is not None]
    return portfolio_from_lines(holdings, snapshot, lines, cash_lines(holdings, snapshot))


def portfolio_from_lines(
    holdings: Holdings, snapshot: QuoteSnapshot, lines: list[Line], cash: list[tuple[Cash, Decimal]]
) -> Portfolio:
    """The portfolio of `value_holdings` from its lines (in the holdings' order) and its cash lines."""
    lines = sorted(lines, key=_by_value, reverse=True)  # stable: ties keep the holdings' order
    sums = totals(lines, (base for _, base in cash))
    total = sums.value
    return portfolio_of(
        holdings.user_id,
        snapshot,
        sums,
        tuple(valued_holding(line, _percent(line.value_base, total)) for line in lines),
        tuple(
            ValuedCash(currency=c.currency, amount=c.amount, amount_base=base, weight=_percent(base, total))
            for c, base in cash
        ),
    )
