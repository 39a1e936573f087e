"""In-memory twins of the quote ports: the snapshot store (the same ingest rules as the SQL) and the
version bus."""

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.clock import FixedClock
from domain.errors import UnknownSymbolError
from domain.models.audit import AuditEntry
from domain.models.quotes import DailyClose, Instrument, Quote, QuoteSnapshot, QuoteUpdate, build_snapshot
from domain.models.trades import QUANTUM
from domain.ports.clock import Clock
from domain.ports.quotes import QuoteRepository, QuoteVersionBus

ONE = Decimal(1)


class InMemoryQuoteRepository(QuoteRepository):
    def __init__(self, clock: Clock | None = None, audit: InMemoryAuditLog | None = None) -> None:
        self.version = 0
        self.instruments: dict[int, Instrument] = {}
        self.quotes: dict[int, Quote] = {}
        self.closes: dict[int, list[DailyClose]] = {}
        self.clock = clock or FixedClock()  # stands for the database server's now()
        self.audit = audit or InMemoryAuditLog(self.clock)

    def publish(self, *quotes: Quote) -> int:
        for quote in quotes:
            self.quotes[quote.instrument_id] = quote
        self.version += 1
        return self.version

    async def latest_version(self) -> int:
        return self.version

    async def load_snapshot(self, base_currency: str) -> QuoteSnapshot:
        return build_snapshot(self.version, dict(self.instruments), dict(self.quotes), base_currency)

    async def apply_quotes(self, updates: Sequence[QuoteUpdate], *, audit: AuditEntry) -> int:
        ids = {inst.symbol: inst.id for inst in self.instruments.values()}
        for i, update in enumerate(updates):
            if update.symbol not in ids:
                raise UnknownSymbolError(update.symbol, field=f"quotes[{i}].symbol")
        self.publish(*(_applied(self.quotes.get(ids[u.symbol]), ids[u.symbol], u, self.clock.now()) for u in updates))
        self.audit.record(audit.completed(version=self.version))
        return self.version

    async def daily_closes(self, instrument_id: int, days: int) -> tuple[DailyClose, ...]:
        closes = self.closes.get(instrument_id, [])
        return tuple(closes[len(closes) - days :]) if days > 0 else ()  # [-0:] would be all of them

    async def daily_closes_many(self, instrument_ids: Sequence[int], days: int) -> dict[int, tuple[DailyClose, ...]]:
        found = {i: await self.daily_closes(i, days) for i in instrument_ids}
        return {i: closes for i, closes in found.items() if closes}


def _applied(old: Quote | None, instrument_id: int, u: QuoteUpdate, now: datetime) -> Quote:
    """The same rules as the SQL upsert: spread kept (on the price's own decimals, at least 2), previous
    close kept, day range widened, and every price kept to the 8 places of the `numeric(20, 8)` columns
    (rounded half away from zero, as PostgreSQL)."""
    exponent = u.price.as_tuple().exponent
    tick = min(exponent if isinstance(exponent, int) else 0, -2)
    bid = u.bid if u.bid is not None else _spread(u.price, old.bid / old.price if old else ONE, tick)
    ask = u.ask if u.ask is not None else _spread(u.price, old.ask / old.price if old else ONE, tick)
    price, bid = _stored(u.price), _stored(bid)
    return Quote(
        instrument_id=instrument_id,
        price=price,
        bid=bid,
        ask=max(_stored(ask), bid),
        previous_close=old.previous_close if old else price,
        day_high=max(old.day_high, price) if old else price,
        day_low=min(old.day_low, price) if old else price,
        volume=u.volume if u.volume is not None else (old.volume if old else 0),
        as_of=now,
    )


def _spread(price: Decimal, ratio: Decimal, tick: int) -> Decimal:
    return (price * ratio).quantize(Decimal(1).scaleb(tick), rounding=ROUND_HALF_UP)  # SQL's round()


def _stored(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP)


class InMemoryQuoteVersionBus(QuoteVersionBus):
    """Delivers announcements to listeners in the same process."""

    def __init__(self) -> None:
        self.announced: list[int] = []
        self._listeners: list[Callable[[int], None]] = []

    async def announce(self, version: int) -> None:
        self.announced.append(version)
        for listener in self._listeners:
            listener(version)

    async def listen(self, on_version: Callable[[int], None]) -> None:
        self._listeners.append(on_version)
        try:
            on_version(0)
            await asyncio.Event().wait()
        finally:
            self._listeners.remove(on_version)
