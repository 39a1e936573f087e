"""Quotes: where published snapshots and price history are kept, and the bus that announces versions."""

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Protocol

from domain.models.audit import AuditEntry
from domain.models.quotes import DailyClose, QuoteSnapshot, QuoteUpdate


class QuoteRepository(Protocol):
    """Where published quote snapshots are kept."""

    @abstractmethod
    async def latest_version(self) -> int:
        """The newest published snapshot version (0 when nothing is published)."""

    @abstractmethod
    async def load_snapshot(self, base_currency: str) -> QuoteSnapshot:
        """Every instrument with its latest quote, at the newest version."""

    @abstractmethod
    async def apply_quotes(self, updates: Sequence[QuoteUpdate], *, audit: AuditEntry) -> int:
        """Store a batch of quotes (distinct symbols) and publish it as a new version, atomically, with `audit`
        (completed with the `version`); return the version.

        Ingests are serialised, so versions become visible in order: concurrent batches get distinct
        versions and the highest one's prices are what stays. Day high/low widen to the new price, the
        previous close is kept (a first quote starts the day at its price), a missing bid/ask keeps the
        quote's relative spread on the price's own decimals (at least 2), the ask never falls below the
        bid, and prices keep 8 decimal places.

        Raises:
            UnknownSymbolError: a symbol names no instrument (nothing is written).
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def daily_closes(self, instrument_id: int, days: int) -> tuple[DailyClose, ...]:
        """The instrument's last `days` daily closes, oldest first (fewer when the history is shorter)."""

    @abstractmethod
    async def daily_closes_many(self, instrument_ids: Sequence[int], days: int) -> dict[int, tuple[DailyClose, ...]]:
        """Each instrument's last `days` daily closes, oldest first, in one round trip (absent: no closes).

        The ids are distinct (a repeated id would repeat its closes).
        """


class QuoteVersionBus(Protocol):
    """Tells every process at once that a new quote version is published (the database poll is the fallback)."""

    @abstractmethod
    async def announce(self, version: int) -> None:
        """Publish `version` to every listener; best effort: never raises."""

    @abstractmethod
    async def listen(self, on_version: Callable[[int], None]) -> None:
        """Run until cancelled, calling `on_version` for each announcement (and once after each
        (re)connection, with 0, since announcements may have been missed); reconnects by itself."""
