"""The wire frames of a live portfolio stream (text/event-stream), each built once and shared."""

import hashlib
from collections import deque
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

import msgspec

from domain.models.holdings import Cash, Holdings, ValuedCash
from domain.models.quotes import QuoteSnapshot
from domain.services.streams.wire import JsonPortfolioWire
from domain.services.valuation import (
    ZERO,
    Line,
    Totals,
    cash_lines,
    portfolio_from_lines,
    portfolio_of,
    totals,
    value_line,
    valued_holding,
    weights,
)

_holdings_encoder = msgspec.msgpack.Encoder()


def retry_frame(retry_ms: int) -> bytes:
    """The reconnection hint: an SSE `retry:` field alone (it dispatches no event)."""
    return b"retry: %d\n\n" % retry_ms


def holdings_tag(holdings: Holdings) -> str:
    """A short digest of the holdings and cash: the same in every process for the same holdings."""
    return hashlib.blake2b(_holdings_encoder.encode(holdings), digest_size=5).hexdigest()


class _Cell:
    """One holding's line at the last valuation: what the totals and the weights need, and its encoded head once
    a later version has needed it (a portfolio read once per version never pays for it)."""

    __slots__ = ("cost_base", "head", "holding", "previous_base", "value_base")

    def __init__(self, line: Line, head: bytes | None = None) -> None:
        self.holding = line.holding
        self.value_base = line.value_base
        self.previous_base = line.previous_base
        self.cost_base = line.cost_base
        self.head = head


def _head(line: Line, wire: JsonPortfolioWire) -> bytes:
    return wire.holding(valued_holding(line, ZERO))


_by_value = attrgetter("value_base")


class Lines(NamedTuple):
    """A valuation's lines in order, encoded with their weights, and their totals."""

    sums: Totals
    holdings: bytes | memoryview
    cash: bytes | memoryview


class Valued:
    """One user's portfolio at one quote version, encoded once for all of that user's streams.

    The first version is encoded whole. It keeps each holding's figures and, from the next version on, its line
    encoded up to its weight, so a next quote version re-values and re-encodes only the lines whose instruments
    moved (`advance`), then re-derives the totals and weights the way `value_holdings` does: the event is the
    portfolio route's answer, byte for byte.
    """

    __slots__ = ("cash", "cells", "event_id", "frame", "holdings", "instruments", "tag", "version")
    version: int
    event_id: str
    frame: bytes | None

    def __init__(self, holdings: Holdings, tag: str, snapshot: QuoteSnapshot, wire: JsonPortfolioWire) -> None:
        self.holdings = holdings
        self.tag = tag
        # In the holdings' order (the sort is stable, so ties keep it); an instrument not listed has no line.
        lines = [line for h in holdings.items if (line := value_line(h, snapshot)) is not None]
        cash = cash_lines(holdings, snapshot)
        self.cells = [_Cell(line) for line in lines]
        self.instruments = tuple(line.holding.instrument_id for line in lines)  # a set would take 4x the memory
        self.cash = [(wire.cash(_cash(c, base, ZERO)), base) for c, base in cash]
        self._stamp(snapshot)
        # The first version is encoded whole, as the portfolio route encodes it; the heads wait for a next one.
        self._emit(wire.whole(portfolio_from_lines(holdings, snapshot, lines, cash)), None)

    def moved_by(self, moved: frozenset[int]) -> bool:
        """Whether a line's quote is among `moved` (an instrument the snapshot does not list has no line, and
        cannot be among them)."""
        return not moved.isdisjoint(self.instruments)

    def advance(self, snapshot: QuoteSnapshot, moved: frozenset[int], wire: JsonPortfolioWire) -> None:
        """Re-value at `snapshot` the lines of the instruments in `moved`, the only quotes that differ from the
        snapshot this was valued at (same instruments, same exchange rates: the cash lines stay)."""
        moved_any = not moved.isdisjoint(self.instruments)
        if moved_any:
            cells = self.cells
            for i, cell in enumerate(cells):
                if cell.holding.instrument_id in moved:
                    line = value_line(cell.holding, snapshot)
                    if line is not None:  # always, as the instruments are the same
                        cells[i] = _Cell(line, _head(line, wire))
        lines = self._lines(snapshot, wire) if moved_any else self._unmoved(snapshot, wire)
        self._stamp(snapshot)
        portfolio = portfolio_of(self.holdings.user_id, snapshot, lines.sums)
        self._emit(wire.portfolio(portfolio, lines.holdings, lines.cash), lines)

    def _lines(self, snapshot: QuoteSnapshot, wire: JsonPortfolioWire) -> Lines:
        for cell in self.cells:
            if cell.head is None:  # its quote has not moved since it was valued: the same line at `snapshot`
                line = value_line(cell.holding, snapshot)
                cell.head = _head(line, wire) if line is not None else b""
        cells = sorted(self.cells, key=_by_value, reverse=True)
        cash_bases = [base for _, base in self.cash]
        sums = totals(cells, cash_bases)
        total = sums.value
        return Lines(
            sums,
            wire.lines([cell.head or b"" for cell in cells], weights(map(_by_value, cells), total)),
            wire.lines([head for head, _ in self.cash], weights(cash_bases, total)),
        )

    def _unmoved(self, snapshot: QuoteSnapshot, wire: JsonPortfolioWire) -> Lines:
        """The lines again when no quote of theirs moved: the same bytes (a subclass may keep them rather than
        encode them again; the streams' hub never asks, as it sends nothing for an unmoved portfolio)."""
        return self._lines(snapshot, wire)

    def _stamp(self, snapshot: QuoteSnapshot) -> None:
        self.version = snapshot.version  # the quote version this was last checked against
        # The id names the quote version and the holdings: a resume can tell whether anything changed.
        self.event_id = f"{snapshot.version}.{self.tag}"

    def _emit(self, data: bytes, lines: Lines | None) -> None:
        """Hand on the encoded portfolio; `lines` are what it was joined from (None: encoded whole), which the
        hub does not keep."""
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


class QuoteMoves:
    """The instruments that moved between the snapshots one reader saw in turn, so that a portfolio valued at
    an earlier one is brought up to date by valuing again only the lines whose quotes moved since."""

    def __init__(self, depth: int = 60) -> None:
        self.depth = depth
        self._seen: QuoteSnapshot | None = None
        self._steps: deque[tuple[int, frozenset[int] | None]] = deque(maxlen=depth)  # (version before, moved)
        self._since: dict[int, frozenset[int] | None] = {}  # per earlier version, until the next snapshot

    def see(self, snapshot: QuoteSnapshot) -> None:
        """Note the snapshot the reader values at now (the same one again costs one comparison)."""
        seen = self._seen
        if seen is snapshot:
            return
        self._seen = snapshot
        if seen is not None and seen.version != snapshot.version:
            self._steps.append((seen.version, moved_instruments(seen, snapshot)))
            self._since.clear()

    def since(self, version: int) -> frozenset[int] | None:
        """What moved from the snapshot of `version` to the last one seen; None when that is not known: an
        exchange rate or the instruments changed in between, or `version` is further back than the steps kept."""
        if version in self._since:
            return self._since[version]
        moved: set[int] = set()
        found = None
        for before, step in reversed(self._steps):
            if step is None:
                break
            moved |= step
            if before == version:
                found = frozenset(moved)
                break
        self._since[version] = found
        return found
