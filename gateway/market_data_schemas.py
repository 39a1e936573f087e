"""Market data on the wire: request Structs with their constraints, response Structs, renderers."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from domain.models.quotes import AssetClass, DailyClose, Instrument, Quote, QuoteSnapshot, QuoteUpdate
from domain.services.market_data import Listing, quote_change
from gateway.amounts import QuotePrice
from gateway.responses import json_encoder

MAX_VOLUME = 2**63 - 1
Symbol = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9][A-Z0-9.\-]{0,15}$", description="Instrument symbol")]
# The document states the bounds itself: Litestar writes 2**63 - 1 as a float (2**63) and drops a bound of 0.
Volume = Annotated[
    int, msgspec.Meta(ge=0, le=MAX_VOLUME, extra_json_schema={"extra": {"minimum": 0, "maximum": MAX_VOLUME}})
]


class QuoteIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One quote to ingest; bid and ask default to the quote's current spread around the new price."""

    symbol: Symbol
    price: QuotePrice
    bid: QuotePrice | None = None
    ask: QuotePrice | None = None
    volume: Volume | None = None

    def to_domain(self, at: str) -> QuoteUpdate:
        """The update; InvalidRequestError (422) naming `{at}.price` (or bid, ask) for an amount out of bounds."""
        price = QuotePrice.check(self.price, f"{at}.price")
        bid = QuotePrice.check(self.bid, f"{at}.bid") if self.bid is not None else None
        ask = QuotePrice.check(self.ask, f"{at}.ask") if self.ask is not None else None
        return QuoteUpdate(symbol=self.symbol, price=price, bid=bid, ask=ask, volume=self.volume)


class QuotesIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # At most QUOTE_BATCH_MAX (the document states the setting; the service refuses more with a 422).
    quotes: Annotated[list[QuoteIn], msgspec.Meta(extra_json_schema={"extra": {"min_items": 1}})]

    def to_domain(self) -> list[QuoteUpdate]:
        return [quote.to_domain(f"quotes[{i}]") for i, quote in enumerate(self.quotes)]


class IngestResult(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    quotes: int


class InstrumentView(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    name: str
    asset_class: AssetClass
    currency: str
    exchange: str


class QuoteView(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    name: str
    asset_class: AssetClass
    currency: str
    exchange: str
    price: Decimal
    bid: Decimal
    ask: Decimal
    previous_close: Decimal
    change: Decimal
    change_pct: Decimal
    day_high: Decimal
    day_low: Decimal
    volume: int
    as_of: datetime


class MarketDataView(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    as_of: datetime | None
    count: int
    quotes: list[QuoteView]


class InstrumentsView(msgspec.Struct, frozen=True, kw_only=True):
    count: int
    instruments: list[InstrumentView]


class DailyCloseView(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    close: Decimal


class ListingView(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One instrument's latest quote (null if never quoted) and, when asked for, its daily closes."""

    version: int
    instrument: InstrumentView
    quote: QuoteView | None
    daily_closes: list[DailyCloseView] | None = None


def instrument_view(inst: Instrument) -> InstrumentView:
    return InstrumentView(
        symbol=inst.symbol, name=inst.name, asset_class=inst.asset_class, currency=inst.currency, exchange=inst.exchange
    )


def quote_view(inst: Instrument, quote: Quote) -> QuoteView:
    change, change_pct = quote_change(quote)
    return QuoteView(
        symbol=inst.symbol,
        name=inst.name,
        asset_class=inst.asset_class,
        currency=inst.currency,
        exchange=inst.exchange,
        price=quote.price,
        bid=quote.bid,
        ask=quote.ask,
        previous_close=quote.previous_close,
        change=change,
        change_pct=change_pct,
        day_high=quote.day_high,
        day_low=quote.day_low,
        volume=quote.volume,
        as_of=quote.as_of,
    )


def listing_view(listing: Listing, closes: tuple[DailyClose, ...] | None) -> ListingView:
    inst = listing.instrument
    return ListingView(
        version=listing.version,
        instrument=instrument_view(inst),
        quote=quote_view(inst, listing.quote) if listing.quote is not None else None,
        daily_closes=[DailyCloseView(day=c.day, close=c.close) for c in closes] if closes is not None else None,
    )


def render_market_data(snapshot: QuoteSnapshot) -> bytes:
    """Every quoted instrument, by symbol: the JSON body of one market-data version."""
    quotes = [
        quote_view(inst, snapshot.quotes[inst.id])
        for inst in sorted(snapshot.instruments.values(), key=lambda i: i.symbol)
        if inst.id in snapshot.quotes
    ]
    view = MarketDataView(version=snapshot.version, as_of=snapshot.as_of, count=len(quotes), quotes=quotes)
    return json_encoder.encode(view)


def render_instruments(snapshot: QuoteSnapshot) -> bytes:
    """Reference data only, so the body (and its ETag) stays the same while quotes move."""
    items = [instrument_view(i) for i in sorted(snapshot.instruments.values(), key=lambda i: i.symbol)]
    return json_encoder.encode(InstrumentsView(count=len(items), instruments=items))
