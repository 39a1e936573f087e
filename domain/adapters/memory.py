"""In-memory twins of the ports, for fast unit tests of the use cases and for demos."""

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from domain.errors import UnknownSymbolError
from domain.models import (
    DailyClose,
    FillTicket,
    Holding,
    Holdings,
    Instrument,
    Quote,
    QuoteSnapshot,
    QuoteUpdate,
    build_snapshot,
)
from domain.ports import (
    HoldingsCache,
    HoldingsRepository,
    InvalidationBus,
    QuoteRepository,
    QuoteVersionBus,
)


class InMemoryHoldingsRepository(HoldingsRepository):
    def __init__(self) -> None:
        self.users: set[int] = set()
        self.holdings: dict[int, dict[int, Holding]] = {}

    def add_user(self, user_id: int, *holdings: Holding) -> None:
        self.users.add(user_id)
        self.holdings[user_id] = {h.instrument_id: h for h in holdings}

    async def get(self, user_id: int) -> Holdings | None:
        if user_id not in self.users:
            return None
        items = sorted(self.holdings.get(user_id, {}).values(), key=lambda h: h.instrument_id)
        return Holdings(user_id=user_id, items=tuple(h for h in items if h.quantity > 0))


class InMemoryQuoteRepository(QuoteRepository):
    def __init__(self) -> None:
        self.version = 0
        self.instruments: dict[int, Instrument] = {}
        self.quotes: dict[int, Quote] = {}
        self.closes: dict[int, list[DailyClose]] = {}
        self.now = datetime(2026, 10, 30, 20, tzinfo=UTC)

    def publish(self, *quotes: Quote) -> int:
        for quote in quotes:
            self.quotes[quote.instrument_id] = quote
        self.version += 1
        return self.version

    async def latest_version(self) -> int:
        return self.version

    async def load_snapshot(self, base_currency: str) -> QuoteSnapshot:
        return build_snapshot(self.version, dict(self.instruments), dict(self.quotes), base_currency)

    async def apply_quotes(self, updates: Sequence[QuoteUpdate]) -> int:
        ids = {inst.symbol: inst.id for inst in self.instruments.values()}
        for i, update in enumerate(updates):
            if update.symbol not in ids:
                raise UnknownSymbolError(update.symbol, field=f"quotes[{i}].symbol")
        self.publish(*(_applied(self.quotes.get(ids[u.symbol]), ids[u.symbol], u, self.now) for u in updates))
        return self.version

    async def daily_closes(self, instrument_id: int, days: int) -> tuple[DailyClose, ...]:
        return tuple(self.closes.get(instrument_id, ())[-days:])

    async def daily_closes_many(self, instrument_ids: Sequence[int], days: int) -> dict[int, tuple[DailyClose, ...]]:
        return {i: tuple(self.closes[i][-days:]) for i in instrument_ids if self.closes.get(i)}


def _applied(old: Quote | None, instrument_id: int, u: QuoteUpdate, now: datetime) -> Quote:
    """The same rules as the SQL upsert: spread kept, previous close kept, day range widened."""
    ratio_bid = old.bid / old.price if old else Decimal(1)
    ratio_ask = old.ask / old.price if old else Decimal(1)
    bid = u.bid if u.bid is not None else u.price * ratio_bid
    ask = max(u.ask if u.ask is not None else u.price * ratio_ask, bid)
    return Quote(
        instrument_id=instrument_id,
        price=u.price,
        bid=bid,
        ask=ask,
        previous_close=old.previous_close if old else u.price,
        day_high=max(old.day_high, u.price) if old else u.price,
        day_low=min(old.day_low, u.price) if old else u.price,
        volume=u.volume if u.volume is not None else (old.volume if old else 0),
        as_of=now,
    )


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


class InMemoryHoldingsCache(HoldingsCache):
    """The shared cache's semantics in a dict: versioned entries, guarded fills, a fill lease."""

    def __init__(self) -> None:
        self.entries: dict[int, Holdings] = {}
        self.versions: dict[int, int] = {}
        self.leases: set[int] = set()
        self.available = True

    async def read(self, user_id: int) -> tuple[Holdings | None, FillTicket]:
        if not self.available:
            return None, FillTicket(user_id=user_id, usable=False)
        version = str(self.versions.get(user_id, "")).encode()
        return self.entries.get(user_id), FillTicket(user_id=user_id, version=version)

    async def fill(self, ticket: FillTicket, holdings: Holdings) -> bool:
        current = str(self.versions.get(ticket.user_id, "")).encode()
        if not self.available or not ticket.usable or current != ticket.version:
            return False
        self.entries[ticket.user_id] = holdings
        return True

    async def invalidate(self, user_id: int) -> None:
        self.versions[user_id] = self.versions.get(user_id, 0) + 1
        self.entries.pop(user_id, None)

    async def lead_fill(self, user_id: int) -> bool:
        if user_id in self.leases:
            return False
        self.leases.add(user_id)
        return True

    async def end_fill(self, user_id: int) -> None:
        self.leases.discard(user_id)

    async def read_or_lead(self, user_id: int) -> tuple[Holdings | None, FillTicket, bool]:
        holdings, ticket = await self.read(user_id)
        if holdings is not None:
            return holdings, ticket, False
        return None, ticket, await self.lead_fill(user_id)

    async def fill_and_end(self, ticket: FillTicket, holdings: Holdings | None) -> bool:
        stored = holdings is not None and await self.fill(ticket, holdings)
        await self.end_fill(ticket.user_id)
        return stored

    async def await_fill(self, user_id: int) -> Holdings | None:
        for _ in range(200):
            await asyncio.sleep(0.001)
            if user_id in self.entries:
                return self.entries[user_id]
            if user_id not in self.leases:
                return None
        return None


class InMemoryInvalidationHub:
    """Stands for the pub/sub server: every bus made from one hub hears every broadcast."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[int], None]] = []

    def bus(self) -> "InMemoryInvalidationBus":
        return InMemoryInvalidationBus(self)


class InMemoryInvalidationBus(InvalidationBus):
    def __init__(self, hub: InMemoryInvalidationHub) -> None:
        self._hub = hub
        self.up = True

    def trusted(self) -> bool:
        return self.up

    async def broadcast(self, user_id: int) -> None:
        for listener in self._hub.listeners:
            listener(user_id)

    async def listen(self, on_invalidate: Callable[[int], None], on_lost: Callable[[], None]) -> None:
        self._hub.listeners.append(on_invalidate)
        try:
            await asyncio.Event().wait()
        finally:
            self._hub.listeners.remove(on_invalidate)
            on_lost()
