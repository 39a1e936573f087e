"""In-memory twins of the holdings ports: the record, the shared cache (versioned entries, guarded
fills, a fill lease) and the invalidation bus (typed messages)."""

import asyncio
from collections.abc import Callable
from decimal import Decimal

from domain.models.holdings import Cash, FillTicket, Holding, Holdings
from domain.models.invalidations import Invalidation
from domain.ports.holdings import HoldingsCache, HoldingsRepository, InvalidationBus


class InMemoryHoldingsRepository(HoldingsRepository):
    def __init__(self) -> None:
        self.users: set[int] = set()
        self.holdings: dict[int, dict[int, Holding]] = {}
        self.cash: dict[int, dict[str, Decimal]] = {}  # the in-memory ledger's balances (it shares this dict)

    def add_user(self, user_id: int, *holdings: Holding) -> None:
        self.users.add(user_id)
        self.holdings[user_id] = {h.instrument_id: h for h in holdings}

    async def get(self, user_id: int) -> Holdings | None:
        if user_id not in self.users:
            return None
        items = sorted(self.holdings.get(user_id, {}).values(), key=lambda h: h.instrument_id)
        cash = tuple(Cash(currency=c, amount=v) for c, v in sorted(self.cash.get(user_id, {}).items()) if v > 0)
        return Holdings(user_id=user_id, items=tuple(h for h in items if h.quantity > 0), cash=cash)


class InMemoryHoldingsCache(HoldingsCache):
    """The shared cache's semantics in a dict: versioned entries, guarded fills, a fill lease."""

    def __init__(self) -> None:
        self.entries: dict[int, Holdings] = {}
        self.versions: dict[int, int] = {}
        self.leases: set[int] = set()
        self.available = True

    async def read_or_lead(self, user_id: int) -> tuple[Holdings | None, FillTicket, bool]:
        if not self.available:
            return None, FillTicket(user_id=user_id, usable=False), True  # load, store nothing
        ticket = FillTicket(user_id=user_id, version=str(self.versions.get(user_id, "")).encode())
        holdings = self.entries.get(user_id)
        if holdings is not None or user_id in self.leases:
            return holdings, ticket, False
        self.leases.add(user_id)
        return None, ticket, True

    async def fill(self, ticket: FillTicket, holdings: Holdings) -> bool:
        current = str(self.versions.get(ticket.user_id, "")).encode()
        if not self.available or not ticket.usable or current != ticket.version:
            return False
        self.entries[ticket.user_id] = holdings
        return True

    async def fill_and_end(self, ticket: FillTicket, holdings: Holdings | None) -> bool:
        stored = holdings is not None and await self.fill(ticket, holdings)
        await self.end_fill(ticket.user_id)
        return stored

    async def end_fill(self, user_id: int) -> None:
        self.leases.discard(user_id)

    async def invalidate(self, user_id: int) -> None:
        self.versions[user_id] = self.versions.get(user_id, 0) + 1
        self.entries.pop(user_id, None)

    async def await_fill(self, user_id: int) -> Holdings | None:
        for _ in range(200):
            await asyncio.sleep(0.001)
            if user_id in self.entries:
                return self.entries[user_id]
            if user_id not in self.leases:
                return None
        return None


class InMemoryInvalidationHub:
    """Stands for the pub/sub server: every bus made from one hub hears every broadcast while it is up."""

    def __init__(self) -> None:
        self.listeners: list[InMemoryInvalidationBus] = []

    def bus(self) -> "InMemoryInvalidationBus":
        return InMemoryInvalidationBus(self)


class InMemoryInvalidationBus(InvalidationBus):
    """One process's end of the hub: trusted while it listens, as a subscription that is known to be alive
    (`up = False` stands for a subscription that stopped answering: it hears nothing until `up` again)."""

    def __init__(self, hub: InMemoryInvalidationHub) -> None:
        self._hub = hub
        self._listening = False
        self._on_message: Callable[[Invalidation], None] | None = None
        self._on_lost: Callable[[], None] | None = None
        self.up = True

    def trusted(self) -> bool:
        return self.up and self._listening

    def lose(self) -> None:
        """The subscription dropped: distrusted, deaf, and the listener is told that it may have missed messages."""
        self.up = False
        if self._on_lost is not None:
            self._on_lost()

    async def broadcast(self, message: Invalidation) -> None:
        for bus in list(self._hub.listeners):
            bus.deliver(message)

    def deliver(self, message: Invalidation) -> None:
        """The hub hands this end a message: heard while it is up and listening, lost otherwise."""
        if self.up and self._on_message is not None:
            self._on_message(message)

    async def listen(self, on_message: Callable[[Invalidation], None], on_lost: Callable[[], None]) -> None:
        self._on_message, self._on_lost = on_message, on_lost
        self._hub.listeners.append(self)
        self._listening = True
        try:
            await asyncio.Event().wait()
        finally:
            self._listening = False
            self._hub.listeners.remove(self)
            self._on_message = self._on_lost = None
