"""Valuation: holdings priced at one quote snapshot, totals and weights in the base currency.

This runs once per (user, holdings, quote version) on the read path, so it is written as one
pass over the holdings. `priced` is the pricing rule the reports' analytics share.
"""

from decimal import Decimal
from operator import itemgetter

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


def value_holdings(holdings: Holdings, snapshot: QuoteSnapshot) -> Portfolio:
    """Value every holding at the snapshot's price, and the cash at its rate; totals and weights in the base
    currency, cash included (in the cost basis too, at its value: it is not a position that gains or loses).

    Money is rounded to the cent before differences and totals are taken, so a client's own sums
    agree to the cent.
    """
    lines = []
    total_value = total_cost = ZERO
    for h in holdings.items:
        found = priced(h, snapshot)
        if found is None:
            continue
        inst, price, fx = found
        market_value = h.quantity * price
        cost_basis = h.quantity * h.average_cost
        value_base = market_value * fx
        total_value += value_base
        total_cost += cost_basis * fx
        lines.append((value_base, h, inst, price, market_value.quantize(CENT), cost_basis.quantize(CENT)))
    lines.sort(key=_by_value, reverse=True)
    cash = [(c, (c.amount * snapshot.fx_to_base.get(c.currency, ONE)).quantize(CENT)) for c in holdings.cash]
    total_cash = sum((base for _, base in cash), ZERO)
    total_value = total_value.quantize(CENT) + total_cash
    total_cost = total_cost.quantize(CENT) + total_cash
    valued = tuple(
        ValuedHolding(
            symbol=inst.symbol,
            name=inst.name,
            asset_class=inst.asset_class,
            currency=inst.currency,
            quantity=h.quantity,
            average_cost=h.average_cost,
            price=price,
            market_value=market_value,
            cost_basis=cost_basis,
            unrealized_pnl=market_value - cost_basis,
            unrealized_pnl_pct=_percent(market_value - cost_basis, cost_basis),
            market_value_base=value_base.quantize(CENT),
            weight=_percent(value_base, total_value),
        )
        for value_base, h, inst, price, market_value, cost_basis in lines
    )
    return Portfolio(
        user_id=holdings.user_id,
        base_currency=snapshot.base_currency,
        quotes_version=snapshot.version,
        quotes_as_of=snapshot.as_of,
        total_market_value=total_value,
        total_cost_basis=total_cost,
        total_unrealized_pnl=total_value - total_cost,
        total_unrealized_pnl_pct=_percent(total_value - total_cost, total_cost),
        holdings=valued,
        total_cash=total_cash,
        cash=tuple(
            ValuedCash(currency=c.currency, amount=c.amount, amount_base=base, weight=_percent(base, total_value))
            for c, base in cash
        ),
    )
