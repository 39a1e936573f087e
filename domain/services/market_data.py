"""Market data: the quote book (the current snapshot, held in process), its follower, and quote ingest."""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal

import msgspec

from domain.errors import InstrumentNotFoundError, InvalidRequestError, UnavailableError, UnknownSymbolError
from domain.models.audit import QUOTES_INGEST, Actor, AuditEntry
from domain.models.quotes import DailyClose, Instrument, Quote, QuoteSnapshot, QuoteUpdate, build_snapshot
from domain.ports.quotes import QuoteRepository, QuoteVersionBus

log = logging.getLogger("folio.market_data")

MAX_HISTORY_DAYS = 3650
# numeric(20, 8): twelve digits before the point.
MAX_PRICE = Decimal("1e12")
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def quote_change(quote: Quote) -> tuple[Decimal, Decimal]:
    """The move since the previous close: absolute, and in percent to the cent."""
    change = quote.price - quote.previous_close
    pct = (change * HUNDRED / quote.previous_close).quantize(CENT) if quote.previous_close else Decimal(0)
    return change, pct


class Listing(msgspec.Struct, frozen=True, kw_only=True):
    """One instrument and its latest quote (None if never quoted), at a snapshot version."""

    instrument: Instrument
    quote: Quote | None
    version: int


class QuoteBook:
    """Holds the newest published snapshot; `refresh` loads a new one only when the version moved."""

    def __init__(self, repository: QuoteRepository, base_currency: str) -> None:
        self._repository = repository
        self._base_currency = base_currency
        self._snapshot = build_snapshot(0, {}, {}, base_currency)
        self._by_symbol: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[QuoteSnapshot], None]] = []

    def on_change(self, listener: Callable[[QuoteSnapshot], None]) -> None:
        """Call `listener` (it must not block) with each new snapshot once it is held."""
        self._listeners.append(listener)

    def current(self) -> QuoteSnapshot:
        return self._snapshot

    def find(self, symbol: str) -> Listing:
        """The instrument called `symbol` at the current snapshot; InstrumentNotFoundError if none."""
        snapshot = self._snapshot
        instrument_id = self._by_symbol.get(symbol)
        if instrument_id is None:
            raise InstrumentNotFoundError(symbol)
        return Listing(
            instrument=snapshot.instruments[instrument_id],
            quote=snapshot.quotes.get(instrument_id),
            version=snapshot.version,
        )

    def knows(self, symbol: str) -> bool:
        return symbol in self._by_symbol

    async def refresh(self) -> bool:
        """Load the newest snapshot if its version differs from the one held; True when it changed.

        Concurrent callers share one load: the second finds the version already current.
        """
        async with self._lock:
            version = await self._repository.latest_version()
            if version == self._snapshot.version and self._snapshot.instruments:
                return False
            snapshot = await self._repository.load_snapshot(self._base_currency)
            self._by_symbol = {inst.symbol: inst.id for inst in snapshot.instruments.values()}
            self._snapshot = snapshot
        for listener in self._listeners:
            listener(snapshot)
        return True


class QuoteFollower:
    """Keeps a QuoteBook current: refreshes at once when nudged (pub/sub), and polls as the fallback."""

    def __init__(self, book: QuoteBook, poll_s: float) -> None:
        self._book = book
        self._poll_s = poll_s
        self._wake = asyncio.Event()

    def nudge(self, version: int) -> None:
        """A version was announced (0: announcements may have been missed); refresh unless it is held."""
        if version != self._book.current().version:
            self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()
            try:
                await self._book.refresh()
            except UnavailableError:
                log.warning("quote refresh failed: the database is not answering")


class MarketDataService:
    """Reads quotes from the book and the price history; ingests batches as new versions."""

    def __init__(self, book: QuoteBook, repository: QuoteRepository, bus: QuoteVersionBus, *, max_batch: int) -> None:
        self._book = book
        self._repository = repository
        self._bus = bus
        self._max_batch = max_batch

    @property
    def book(self) -> QuoteBook:
        return self._book

    def listing(self, symbol: str) -> Listing:
        return self._book.find(symbol)

    async def daily_closes(self, symbol: str, days: int) -> tuple[DailyClose, ...]:
        """The last `days` closes of `symbol`, oldest first."""
        if not 1 <= days <= MAX_HISTORY_DAYS:
            raise InvalidRequestError(f"days must be between 1 and {MAX_HISTORY_DAYS}", field="days")
        listing = self._book.find(symbol)
        return await self._repository.daily_closes(listing.instrument.id, days)

    async def ingest(self, updates: Sequence[QuoteUpdate], *, actor: Actor) -> int:
        """Validate and store a batch as one new version (audited as `actor`'s), announce it, return the version."""
        self._validate(updates)
        change = {"quotes": [msgspec.structs.astuple(u) for u in updates]}
        version = await self._repository.apply_quotes(
            updates, audit=AuditEntry.by(actor, QUOTES_INGEST, "quotes", change)
        )
        await self._bus.announce(version)
        # This process serves its own write at once, whatever the announcement does.
        try:
            await self._book.refresh()
        except UnavailableError:
            log.warning("quote book not refreshed after ingest: the database is not answering")
        return version

    def _validate(self, updates: Sequence[QuoteUpdate]) -> None:
        if not updates:
            raise InvalidRequestError("at least one quote is required", field="quotes")
        if len(updates) > self._max_batch:
            raise InvalidRequestError(f"at most {self._max_batch} quotes per batch", field="quotes")
        # An empty book (the database was down at start) defers the symbol check to the repository.
        check_symbols = bool(self._book.current().instruments)
        seen: set[str] = set()
        for i, update in enumerate(updates):
            at = f"quotes[{i}]"
            if update.symbol in seen:
                raise InvalidRequestError(f"symbol {update.symbol!r} appears twice", field=f"{at}.symbol")
            seen.add(update.symbol)
            if check_symbols and not self._book.knows(update.symbol):
                raise UnknownSymbolError(update.symbol, field=f"{at}.symbol")
            _check_prices(update, at)


def _check_prices(update: QuoteUpdate, at: str) -> None:
    for name in ("price", "bid", "ask"):
        value: Decimal | None = getattr(update, name)
        if value is not None and not (value.is_finite() and 0 < value < MAX_PRICE):
            raise InvalidRequestError(f"{name} must be a positive number below {MAX_PRICE:,f}", field=f"{at}.{name}")
    if update.bid is not None and update.ask is not None and update.bid > update.ask:
        raise InvalidRequestError("bid must not exceed ask", field=f"{at}.ask")
    if update.volume is not None and update.volume < 0:
        raise InvalidRequestError("volume must not be negative", field=f"{at}.volume")
