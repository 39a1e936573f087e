"""Portfolio reads: cached holdings, valued fresh at the current quote snapshot.

Holdings change only on trades, so they are cached (in process, then in the shared cache) and
valued at the current snapshot on every read: a cached portfolio is never priced with stale
quotes. Invalidation after a trade reaches every process before the trade is acknowledged.
"""

import asyncio
import time
from collections.abc import Callable

from domain import timing
from domain.errors import UserNotFoundError
from domain.models.holdings import FillTicket, Holdings, Portfolio
from domain.models.invalidations import HoldingsChanged, Invalidation
from domain.models.quotes import QuoteSnapshot
from domain.ports.holdings import HoldingsCache, HoldingsRepository, InvalidationBus
from domain.ports.metrics import Metrics
from domain.services.invalidations import listen_for_invalidations
from domain.services.valuation import value_holdings


class _LeaderGoneError(Exception):
    """The request loading a user's holdings was cancelled; whoever waited on it loads them anew."""


def _retrieve(flight: asyncio.Future[tuple[Holdings | None, bool]]) -> None:
    if not flight.cancelled():
        flight.exception()  # seen here, so a flight nobody waited on does not log "never retrieved"


class PortfolioService:
    """Reads holdings through two cache levels with single-flight loading, and values them."""

    def __init__(
        self,
        repository: HoldingsRepository,
        snapshot: Callable[[], QuoteSnapshot],
        *,
        cache: HoldingsCache | None = None,
        bus: InvalidationBus | None = None,
        local_ttl_s: float = 300.0,
        local_max_entries: int = 100_000,
        metrics: Metrics,
    ) -> None:
        self._repository = repository
        self._metrics = metrics  # cache lookups that end a read: "holdings" hit, miss or error
        self._snapshot = snapshot
        self._cache = cache
        self._bus = bus
        self._local_ttl_s = local_ttl_s
        self._local_max = local_max_entries
        self._local: dict[int, tuple[Holdings, float]] = {}
        self._generation: dict[int, int] = {}
        self._epoch = 0
        self._flights: dict[int, asyncio.Future[tuple[Holdings | None, bool]]] = {}

    def snapshot(self) -> QuoteSnapshot:
        return self._snapshot()

    def cached(self, user_id: int) -> Holdings | None:
        """In-process holdings, without any I/O; None unless they are present, fresh and trusted."""
        entry = self._local.get(user_id)
        if entry is None or self._bus is None or not self._bus.trusted():
            return None
        if entry[1] < time.monotonic():
            del self._local[user_id]
            return None
        self._metrics.cache("holdings", "hit")
        return entry[0]

    async def read(self, user_id: int) -> tuple[Portfolio, bool]:
        """The portfolio at the current snapshot, and whether it was served without the database."""
        holdings, hit = await self.holdings(user_id)
        return value_holdings(holdings, self._snapshot()), hit

    async def holdings(self, user_id: int) -> tuple[Holdings, bool]:
        local = self.cached(user_id)
        if local is not None:
            return local, True
        while True:
            flight = self._flights.get(user_id)
            if flight is None:
                holdings, hit = await self._lead(user_id)
                break
            try:
                holdings, hit = await asyncio.shield(flight)
                break
            except _LeaderGoneError:
                continue  # the request that was loading went away: load it ourselves
        if holdings is None:
            raise UserNotFoundError(user_id)
        return holdings, hit

    async def _lead(self, user_id: int) -> tuple[Holdings | None, bool]:
        """Load inline, as the one request of this process doing so; others wait on its flight.

        Inline rather than in a task: under load every hand-off between tasks costs a turn of the
        event loop (tens of requests' work), and a miss already waits for several round trips.
        """
        flight: asyncio.Future[tuple[Holdings | None, bool]] = asyncio.get_running_loop().create_future()
        flight.add_done_callback(_retrieve)
        self._flights[user_id] = flight
        try:
            result = await self._load(user_id)
        except asyncio.CancelledError:
            flight.set_exception(_LeaderGoneError())
            raise
        except BaseException as e:
            flight.set_exception(e)
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            if self._flights.get(user_id) is flight:
                del self._flights[user_id]

    async def _load(self, user_id: int) -> tuple[Holdings | None, bool]:
        stamp = (self._epoch, self._generation.get(user_id, 0))
        if self._cache is None:
            return await self._repository.get(user_id), False
        holdings, ticket, leader = await self._cache.read_or_lead(user_id)
        hit = holdings is not None
        self._metrics.cache("holdings", "hit" if hit else "miss" if ticket.usable else "error")
        if holdings is None:
            holdings = await self._fill(self._cache, user_id, ticket, leader)
        # Stored only if no invalidation for this user (or loss of the bus) happened meanwhile.
        if holdings is not None and stamp == (self._epoch, self._generation.get(user_id, 0)):
            self._remember(user_id, holdings)
        return holdings, hit

    async def _fill(self, cache: HoldingsCache, user_id: int, ticket: FillTicket, leader: bool) -> Holdings | None:
        # Across processes, one loader per user at a time (the lease came with the read); the others
        # wait for its fill. Two round trips to Valkey on a miss: each costs a turn of a busy loop.
        if not leader:
            waited = await cache.await_fill(user_id)
            if waited is not None:
                return waited
        try:
            holdings = await self._repository.get(user_id)
        except BaseException:
            if leader:
                await cache.end_fill(user_id)
            raise
        if leader:
            await cache.fill_and_end(ticket, holdings)  # refused if a trade raced it (the ticket's version)
        elif holdings is not None:
            await cache.fill(ticket, holdings)
        return holdings

    def _remember(self, user_id: int, holdings: Holdings) -> None:
        if self._bus is None or not self._bus.trusted():
            return
        if len(self._local) >= self._local_max:
            del self._local[next(iter(self._local))]  # the oldest entry goes first
        self._local[user_id] = (holdings, time.monotonic() + self._local_ttl_s)

    def forget(self, user_id: int) -> None:
        """Drop this process's copy; loads already under way may no longer store theirs."""
        self._generation[user_id] = self._generation.get(user_id, 0) + 1
        self._local.pop(user_id, None)
        self._flights.pop(user_id, None)

    def forget_all(self) -> None:
        """The bus may have missed invalidations: drop every local copy and every load under way."""
        self._epoch += 1
        self._local.clear()
        self._flights.clear()

    def apply(self, message: Invalidation) -> None:
        """One message from the invalidation channel: a user's holdings changed somewhere."""
        if isinstance(message, HoldingsChanged):
            self.forget(message.user_id)

    def lost(self) -> None:
        self.forget_all()

    async def listen(self) -> None:
        """Apply every process's invalidations until cancelled (web processes share one subscription, see
        `listen_for_invalidations`; this is the same for a service on its own)."""
        if self._bus is not None:
            await listen_for_invalidations(self._bus, [self])

    async def invalidate(self, user_id: int) -> None:
        """After a committed change: drop every copy everywhere before the change is acknowledged."""
        self.forget(user_id)
        if self._cache is not None:
            await self._cache.invalidate(user_id)
        if self._bus is not None:
            start = time.perf_counter()
            await self._bus.broadcast(HoldingsChanged(user_id=user_id))
            timing.add_cache(time.perf_counter() - start)  # waiting for every process's ack, over Valkey
