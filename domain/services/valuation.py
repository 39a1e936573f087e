"""Valuation: holdings priced at one quote snapshot, totals and weights in the base currency.

This runs once per (user, holdings, quote version) on the read path, so it is written as one
pass over the holdings. `priced` is the pricing rule the reports' analytics share.
"""

from decimal import Decimal
from operator import itemgetter
from typing import NamedTuple

from domain.models.holdings import Holding, Holdings, Portfolio, ValuedCash, ValuedHolding
from domain.models.quotes import Instrument, QuoteSnapshot

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)
ONE = Decimal(1)
_by_value = itemgetter(0)


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


class _Line(NamedTuple):
    value_base: Decimal  # unrounded, for the sort and the totals
    previous_base: Decimal
    cost_base: Decimal
    holding: Holding
    inst: Instrument
    price: Decimal
    market_value: Decimal
    cost_basis: Decimal
    previous_value: Decimal  # at the previous close, in the instrument's currency


def _line(h: Holding, snapshot: QuoteSnapshot) -> _Line | None:
    found = priced(h, snapshot)
    if found is None:
        return None
    inst, price, fx = found
    quote = snapshot.quotes.get(h.instrument_id)
    previous = quote.previous_close if quote is not None else price  # never quoted: no change
    market_value = h.quantity * price
    previous_value = h.quantity * previous
    cost_basis = h.quantity * h.average_cost
    return _Line(
        market_value * fx, previous_value * fx, cost_basis * fx, h, inst, price, market_value.quantize(CENT),
        cost_basis.quantize(CENT), previous_value.quantize(CENT),
    )  # fmt: skip


def _valued(line: _Line, total_value: Decimal) -> ValuedHolding:
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
        weight=_percent(line.value_base, total_value),
    )


def value_holdings(holdings: Holdings, snapshot: QuoteSnapshot) -> Portfolio:
    """Value every holding at the snapshot's price, and the cash at its rate; totals and weights in the base
    currency, cash included (in the cost basis too, at its value: it is not a position that gains or loses).
    The day's change is against each quote's previous close (the last daily close the market day recorded);
    cash does not change in a day.

    Money is rounded to the cent before differences and totals are taken, so a client's own sums
    agree to the cent.
    """
    lines = [line for h in holdings.items if (line := _line(h, snapshot)) is not None]
    lines.sort(key=_by_value, reverse=True)
    cash = [(c, (c.amount * snapshot.fx_to_base.get(c.currency, ONE)).quantize(CENT)) for c in holdings.cash]
    total_cash = sum((base for _, base in cash), ZERO)
    total_value = sum((line.value_base for line in lines), ZERO).quantize(CENT) + total_cash
    total_previous = sum((line.previous_base for line in lines), ZERO).quantize(CENT) + total_cash
    total_cost = sum((line.cost_base for line in lines), ZERO).quantize(CENT) + total_cash
    return Portfolio(
        user_id=holdings.user_id,
        base_currency=snapshot.base_currency,
        quotes_version=snapshot.version,
        quotes_as_of=snapshot.as_of,
        total_market_value=total_value,
        total_cost_basis=total_cost,
        total_unrealized_pnl=total_value - total_cost,
        total_unrealized_pnl_pct=_percent(total_value - total_cost, total_cost),
        total_day_change=total_value - total_previous,
        total_day_change_pct=_percent(total_value - total_previous, total_previous),
        holdings=tuple(_valued(line, total_value) for line in lines),
        total_cash=total_cash,
        cash=tuple(
            ValuedCash(currency=c.currency, amount=c.amount, amount_base=base, weight=_percent(base, total_value))
            for c, base in cash
        ),
    )
