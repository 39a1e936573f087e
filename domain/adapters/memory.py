"""In-memory twins of the ports, for fast unit tests of the use cases and for demos."""

from domain.models import Holding, Holdings, Instrument, Quote, QuoteSnapshot, build_snapshot
from domain.ports import HoldingsRepository, HostMetrics, QuoteRepository


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

    def publish(self, *quotes: Quote) -> int:
        for quote in quotes:
            self.quotes[quote.instrument_id] = quote
        self.version += 1
        return self.version

    async def latest_version(self) -> int:
        return self.version

    async def load_snapshot(self, base_currency: str) -> QuoteSnapshot:
        return build_snapshot(self.version, dict(self.instruments), dict(self.quotes), base_currency)


class FixedHostMetrics(HostMetrics):
    def __init__(self, cpu: float = 10.0, memory: float = 20.0) -> None:
        self.cpu = cpu
        self.memory = memory

    def cpu_percent(self) -> float:
        return self.cpu

    def memory_percent(self) -> float:
        return self.memory
