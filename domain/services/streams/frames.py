"""The wire frames of a live portfolio stream (text/event-stream), each built once and shared."""

import hashlib
from decimal import Decimal

import msgspec

from domain.models.holdings import Cash, Holdings, ValuedCash
from domain.models.quotes import QuoteSnapshot
from domain.services.streams.wire import JsonPortfolioWire
from domain.services.valuation import ZERO, Line, cash_lines, portfolio_of, totals, value_line, valued_holding, weights

_holdings_encoder = msgspec.msgpack.Encoder()


def retry_frame(retry_ms: int) -> bytes:
    """The reconnection hint: an SSE `retry:` field alone (it dispatches no event)."""
    return b"retry: %d\n\n" % retry_ms


def holdings_tag(holdings: Holdings) -> str:
    """A short digest of the holdings and cash: the same in every process for the same holdings."""
    return hashlib.blake2b(_holdings_encoder.encode(holdings), digest_size=5).hexdigest()


class _Cell:
    """One holding's line at the last valuation: what the totals and the weights need, and its encoded head."""

    __slots__ = ("cost_base", "head", "holding", "previous_base", "value_base")

    def __init__(self, line: Line, wire: JsonPortfolioWire) -> None:
        self.holding = line.holding
        self.value_base = line.value_base
        self.previous_base = line.previous_base
        self.cost_base = line.cost_base
        self.head = wire.holding(valued_holding(line, ZERO))


def _by_value(cell: _Cell) -> Decimal:
    return cell.value_base


class Valued:
    """One user's portfolio at one quote version, encoded once for all of that user's streams.

    It keeps each holding's line encoded up to its weight, so the next quote version re-values and
    re-encodes only the lines whose instruments moved (`advance`), then re-derives the totals and
    weights the way `value_holdings` does: the event is the portfolio route's answer, byte for byte.
    """

    __slots__ = ("cash", "cells", "event_id", "frame", "holdings", "tag", "version")
    version: int
    event_id: str
    frame: bytes | None

    def __init__(self, holdings: Holdings, tag: str, snapshot: QuoteSnapshot, wire: JsonPortfolioWire) -> None:
        self.holdings = holdings
        self.tag = tag
        # In the holdings' order (the sort is stable, so ties keep it); an instrument not listed has no line.
        self.cells = [_Cell(line, wire) for h in holdings.items if (line := value_line(h, snapshot)) is not None]
        self.cash = [(wire.cash(_cash(c, base, ZERO)), base) for c, base in cash_lines(holdings, snapshot)]
        self._encode(snapshot, wire)

    def moved_by(self, moved: frozenset[int]) -> bool:
        """Whether a line's quote is among `moved` (an instrument the snapshot does not list has no line, and
        cannot be among them)."""
        return any(cell.holding.instrument_id in moved for cell in self.cells)

    def advance(self, snapshot: QuoteSnapshot, moved: frozenset[int], wire: JsonPortfolioWire) -> None:
        """Re-value at `snapshot` the lines of the instruments in `moved`, the only quotes that differ from the
        snapshot this was valued at (same instruments, same exchange rates: the cash lines stay)."""
        cells = self.cells
        for i, cell in enumerate(cells):
            if cell.holding.instrument_id in moved:
                line = value_line(cell.holding, snapshot)
                if line is not None:  # always, as the instruments are the same
                    cells[i] = _Cell(line, wire)
        self._encode(snapshot, wire)

    def _encode(self, snapshot: QuoteSnapshot, wire: JsonPortfolioWire) -> None:
        self.version = snapshot.version  # the quote version this was last checked against
        # The id names the quote version and the holdings: a resume can tell whether anything changed.
        self.event_id = f"{snapshot.version}.{self.tag}"
        cells = sorted(self.cells, key=_by_value, reverse=True)
        sums = totals(cells, [base for _, base in self.cash])
        total = sums.value
        data = wire.portfolio(
            portfolio_of(self.holdings.user_id, snapshot, sums),
            ([cell.head for cell in cells], weights([cell.value_base for cell in cells], total)),
            ([head for head, _ in self.cash], weights([base for _, base in self.cash], total)),
        )
        # The encoded event, until it has been handed to the streams (None after: the hub keeps no copy).
        self.frame = b"event: portfolio\nid: %s\ndata: %s\n\n" % (self.event_id.encode(), data)

    def same_holdings(self, holdings: Holdings) -> bool:
        return self.holdings is holdings or self.holdings == holdings  # a reload from a cache is a new object


def _cash(cash: Cash, base: Decimal, share: Decimal) -> ValuedCash:
    return ValuedCash(currency=cash.currency, amount=cash.amount, amount_base=base, weight=share)


def value(holdings: Holdings, snapshot: QuoteSnapshot, wire: JsonPortfolioWire, previous: "Valued | None") -> Valued:
    """Value and encode `holdings` at `snapshot` (the digest is reused while the holdings are the same)."""
    tag = previous.tag if previous is not None and previous.same_holdings(holdings) else holdings_tag(holdings)
    return Valued(holdings, tag, snapshot, wire)


def moved_instruments(old: QuoteSnapshot, new: QuoteSnapshot) -> frozenset[int] | None:
    """The instruments whose quotes differ between two snapshots; None when every valuation may change
    (an exchange rate moved, or the instruments themselves changed)."""
    if old.fx_to_base != new.fx_to_base or old.instruments.keys() != new.instruments.keys():
        return None
    old_quotes = old.quotes
    return frozenset(i for i, quote in new.quotes.items() if old_quotes.get(i) != quote)
