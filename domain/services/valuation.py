"""Valuation: holdings priced at one quote snapshot, totals and weights in the base currency."""

from decimal import Decimal

from domain.models import Holding, Holdings, Portfolio, QuoteSnapshot, ValuedHolding

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    return (part * HUNDRED / whole).quantize(CENT) if whole else ZERO


class _Line:
    """One holding's figures before weights are known."""

    __slots__ = ("cost_base", "holding", "market_value", "price", "value_base")

    def __init__(self, holding: Holding, snapshot: QuoteSnapshot) -> None:
        inst = snapshot.instruments[holding.instrument_id]
        quote = snapshot.quotes.get(holding.instrument_id)
        # An instrument never quoted is carried at cost rather than at zero.
        self.price = quote.price if quote is not None else holding.average_cost
        self.holding = holding
        self.market_value = holding.quantity * self.price
        fx = snapshot.fx_to_base.get(inst.currency, Decimal(1))
        self.value_base = self.market_value * fx
        self.cost_base = holding.quantity * holding.average_cost * fx


def value_holdings(holdings: Holdings, snapshot: QuoteSnapshot) -> Portfolio:
    """Value every holding at the snapshot's price; totals and weights in the base currency."""
    lines = [_Line(h, snapshot) for h in holdings.items if h.instrument_id in snapshot.instruments]
    lines.sort(key=lambda line: line.value_base, reverse=True)
    # Totals and differences are taken from rounded figures, so a client's own sums agree to the cent.
    total_value = _money(sum((line.value_base for line in lines), ZERO))
    total_cost = _money(sum((line.cost_base for line in lines), ZERO))
    valued = tuple(_valued(line, snapshot, total_value) for line in lines)
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
    )


def _valued(line: _Line, snapshot: QuoteSnapshot, total_value: Decimal) -> ValuedHolding:
    h = line.holding
    inst = snapshot.instruments[h.instrument_id]
    market_value = _money(line.market_value)
    cost_basis = _money(h.quantity * h.average_cost)
    pnl = market_value - cost_basis
    return ValuedHolding(
        symbol=inst.symbol,
        name=inst.name,
        asset_class=inst.asset_class,
        currency=inst.currency,
        quantity=h.quantity,
        average_cost=h.average_cost,
        price=line.price,
        market_value=market_value,
        cost_basis=cost_basis,
        unrealized_pnl=pnl,
        unrealized_pnl_pct=_percent(pnl, cost_basis),
        market_value_base=_money(line.value_base),
        weight=_percent(line.value_base, total_value),
    )
