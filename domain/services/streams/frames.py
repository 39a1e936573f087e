"""The wire frames of a live portfolio stream (text/event-stream), each built once and shared."""

import hashlib
from collections.abc import Callable

import msgspec

from domain.models.holdings import Holdings, Portfolio
from domain.models.quotes import QuoteSnapshot
from domain.services.valuation import value_holdings

_holdings_encoder = msgspec.msgpack.Encoder()


def retry_frame(retry_ms: int) -> bytes:
    """The reconnection hint: an SSE `retry:` field alone (it dispatches no event)."""
    return b"retry: %d\n\n" % retry_ms


def holdings_tag(holdings: Holdings) -> str:
    """A short digest of the holdings and cash: the same in every process for the same holdings."""
    return hashlib.blake2b(_holdings_encoder.encode(holdings), digest_size=5).hexdigest()


class Valued:
    """One user's portfolio at one quote version, encoded once for all of that user's streams."""

    __slots__ = ("event_id", "frame", "holdings", "instruments", "tag", "version")

    def __init__(self, holdings: Holdings, tag: str, snapshot: QuoteSnapshot, data: bytes) -> None:
        self.holdings = holdings
        self.tag = tag
        self.version = snapshot.version  # the quote version this was last checked against
        self.instruments = frozenset(h.instrument_id for h in holdings.items)
        # The id names the quote version and the holdings: a resume can tell whether anything changed.
        self.event_id = f"{snapshot.version}.{tag}"
        # The encoded event, until it has been handed to the streams (None after: the hub keeps no copy).
        self.frame: bytes | None = b"event: portfolio\nid: %s\ndata: %s\n\n" % (self.event_id.encode(), data)

    def same_holdings(self, holdings: Holdings) -> bool:
        return self.holdings is holdings or self.holdings == holdings  # a reload from a cache is a new object


def value(
    holdings: Holdings, snapshot: QuoteSnapshot, encode: Callable[[Portfolio], bytes], previous: "Valued | None"
) -> Valued:
    """Value and encode `holdings` at `snapshot` (the digest is reused while the holdings are the same)."""
    tag = previous.tag if previous is not None and previous.same_holdings(holdings) else holdings_tag(holdings)
    return Valued(holdings, tag, snapshot, encode(value_holdings(holdings, snapshot)))


def moved_instruments(old: QuoteSnapshot, new: QuoteSnapshot) -> frozenset[int] | None:
    """The instruments whose quotes differ between two snapshots; None when every valuation may change
    (an exchange rate moved, or the instruments themselves changed)."""
    if old.fx_to_base != new.fx_to_base or old.instruments.keys() != new.instruments.keys():
        return None
    old_quotes = old.quotes
    return frozenset(i for i, quote in new.quotes.items() if old_quotes.get(i) != quote)
