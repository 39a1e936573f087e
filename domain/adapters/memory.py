"""In-memory twins of the ports, for fast unit tests of the use cases and for demos."""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec

from domain.errors import InvalidRequestError, UnavailableError, UnknownSymbolError, UserNotFoundError
from domain.models import (
    Backlog,
    DailyClose,
    Email,
    FillTicket,
    Holding,
    Holdings,
    Instrument,
    ProcessSample,
    Quote,
    QuoteSnapshot,
    QuoteUpdate,
    Report,
    ReportClaim,
    ReportDocument,
    ReportPage,
    ReportRequest,
    ReportStatus,
    build_snapshot,
)
from domain.ports import (
    FleetRegistry,
    HoldingsCache,
    HoldingsRepository,
    HostMetrics,
    InvalidationBus,
    Mailer,
    Metrics,
    QueueBacklog,
    QuoteRepository,
    QuoteVersionBus,
    RateLimitStore,
    ReportQueue,
    ReportRenderer,
    ReportRepository,
    ReportStatistics,
)
from domain.scaling import ScalerRecord


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


class FixedHostMetrics(HostMetrics):
    def __init__(self, cpu: float = 10.0, memory: float = 20.0) -> None:
        self.cpu = cpu
        self.memory = memory

    def cpu_percent(self) -> float:
        return self.cpu

    def memory_percent(self) -> float:
        return self.memory


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


class InMemoryReportRepository(ReportRepository):
    """The Postgres repository's rules in a dict: fenced writes, idempotency keys, stale requeue."""

    def __init__(self, users: dict[int, tuple[str, str]] | None = None) -> None:
        self.users = users if users is not None else {}  # id -> (email, name)
        self.rows: dict[str, Report] = {}
        self.documents: dict[str, bytes] = {}
        self.keys: dict[tuple[int, str], str] = {}
        self.now = datetime(2026, 10, 30, 20, tzinfo=UTC)

    def _due(self, seconds: float) -> datetime:
        return self.now + timedelta(seconds=seconds)

    async def create(self, user_id: int, idempotency_key: str | None, deadline_s: float) -> ReportRequest:
        if user_id not in self.users:
            raise UserNotFoundError(user_id)
        if idempotency_key is not None and (user_id, idempotency_key) in self.keys:
            return ReportRequest(report=self.rows[self.keys[user_id, idempotency_key]], created=False)
        report = Report(
            id=str(uuid.uuid4()), user_id=user_id, status="queued", attempts=0, email_status="pending", error=None,
            has_document=False, created_at=self.now, started_at=None, finished_at=None,
            deadline_at=self._due(deadline_s),
        )  # fmt: skip
        self.rows[report.id] = report
        if idempotency_key is not None:
            self.keys[user_id, idempotency_key] = report.id
        return ReportRequest(report=report, created=True)

    async def get(self, report_id: str) -> Report | None:
        return self.rows.get(report_id)

    async def document(self, report_id: str) -> bytes | None:
        return self.documents.get(report_id)

    async def claim(self, report_id: str, lease_s: float) -> ReportClaim | None:
        r = self.rows.get(report_id)
        if r is None or not (r.status == "queued" or (r.status == "running" and r.deadline_at < self.now)):
            return None
        r = msgspec.structs.replace(
            r, status="running", attempts=r.attempts + 1, started_at=self.now, finished_at=None,
            deadline_at=self._due(lease_s),
        )  # fmt: skip
        self.rows[report_id] = r
        email, name = self.users[r.user_id]
        return ReportClaim(
            report_id=report_id, user_id=r.user_id, attempt=r.attempts, email_status=r.email_status,
            has_document=r.has_document, recipient=email, recipient_name=name,
        )  # fmt: skip

    def _live(self, claim: ReportClaim) -> Report | None:
        r = self.rows.get(claim.report_id)
        return r if r is not None and r.status == "running" and r.attempts == claim.attempt else None

    async def store_document(self, claim: ReportClaim, document: bytes) -> bool:
        if (r := self._live(claim)) is None:
            return False
        self.documents[r.id] = document
        self.rows[r.id] = msgspec.structs.replace(r, has_document=True)
        return True

    async def set_email_status(self, claim: ReportClaim, status: str, *, expected: str) -> bool:
        r = self._live(claim) if status == "pending" or expected == "pending" else self.rows.get(claim.report_id)
        if r is None or r.email_status != expected:
            return False
        self.rows[r.id] = msgspec.structs.replace(r, email_status=status)
        return True

    async def finish(self, claim: ReportClaim, status: ReportStatus, error: str | None) -> bool:
        if (r := self._live(claim)) is None:
            return False
        self.rows[r.id] = msgspec.structs.replace(r, status=status, error=error, finished_at=self.now)
        return True

    async def release(self, claim: ReportClaim, error: str, deadline_s: float) -> bool:
        if (r := self._live(claim)) is None:
            return False
        self.rows[r.id] = msgspec.structs.replace(r, status="queued", error=error, deadline_at=self._due(deadline_s))
        return True

    async def requeue_stale(self, deadline_s: float, limit: int) -> list[str]:
        stale = sorted(
            (r for r in self.rows.values() if r.status in ("queued", "running") and r.deadline_at < self.now),
            key=lambda r: r.deadline_at,
        )[:limit]
        for r in stale:
            self.rows[r.id] = msgspec.structs.replace(r, status="queued", deadline_at=self._due(deadline_s))
        return [r.id for r in stale]

    async def by_status(self, status: ReportStatus, *, limit: int, cursor: str | None) -> ReportPage:
        # The clock stands still, so creation order breaks ties; like PostgreSQL's (created_at, id) cursor,
        # the page resumes after the cursor's position even when that report has changed status since.
        order = {rid: i for i, rid in enumerate(self.rows)}

        def position(r: Report) -> tuple[datetime, int]:
            return r.created_at, order[r.id]

        if cursor is not None and cursor not in self.rows:
            raise InvalidRequestError("the cursor is not one this API gave out", field="cursor")
        after = position(self.rows[cursor]) if cursor is not None else None
        chosen = (r for r in self.rows.values() if r.status == status and (after is None or position(r) < after))
        ordered = sorted(chosen, key=position, reverse=True)
        items = tuple(ordered[:limit])
        return ReportPage(items=items, next_cursor=items[-1].id if len(ordered) > limit and items else None)


class InMemoryReportQueue(ReportQueue):
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.available = True

    async def send(self, report_id: str) -> None:
        if not self.available:
            raise UnavailableError("the broker is not answering")
        self.sent.append(report_id)


class InMemoryMailer(Mailer):
    """Keeps sent emails; `fail_with` makes the next sends raise (a refusal or an unknown outcome)."""

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.fail_with: Exception | None = None

    async def send(self, email: Email) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(email)


class FakeReportRenderer(ReportRenderer):
    """A tiny stand-in document: the figures encoded, so tests can read them back."""

    def __init__(self) -> None:
        self.rendered: list[ReportDocument] = []

    def render(self, document: ReportDocument) -> bytes:
        self.rendered.append(document)
        return b"%PDF-fake\n" + msgspec.json.encode(document.analytics)


class InMemoryRateLimitStore(RateLimitStore):
    """Shared counters in a dict; `down = True` makes every call fail as an unreachable store would."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.calls = 0
        self.down = False

    async def add(self, deltas: Sequence[tuple[str, int, int]], ttl_s: int) -> list[int]:
        self.calls += 1
        await asyncio.sleep(0)  # a round trip: other requests run meanwhile
        if self.down:
            raise UnavailableError("the rate-limit store is down")
        totals = []
        for digest, window, delta in deltas:
            total = self.counts[(digest, window)] = self.counts.get((digest, window), 0) + delta
            totals.append(total)
        return totals


class InMemoryFleetRegistry(FleetRegistry):
    """Heartbeats with expiry times on an injectable clock; `down = True` makes every call fail."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._samples: dict[tuple[str, str, int], tuple[float, ProcessSample]] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._records: dict[str, bytes] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise UnavailableError("the fleet registry is down")

    async def publish(self, sample: ProcessSample, ttl_s: float) -> None:
        self._check()
        self._samples[(sample.process, sample.instance, sample.pid)] = (self._clock() + ttl_s, sample)

    async def live(self, process: str) -> list[ProcessSample]:
        self._check()
        now = self._clock()
        return [sample for (kind, *_), (until, sample) in self._samples.items() if kind == process and until > now]

    async def lead(self, process: str, holder: str, hold_s: float) -> bool:
        self._check()
        current = self._leases.get(process)
        if current is not None and current[1] > self._clock():
            return False
        self._leases[process] = (holder, self._clock() + hold_s)
        return True

    async def load(self, process: str) -> ScalerRecord | None:
        self._check()
        stored = self._records.get(process)
        return None if stored is None else msgspec.msgpack.decode(stored, type=ScalerRecord)

    async def save(self, process: str, record: ScalerRecord) -> None:
        self._check()
        self._records[process] = msgspec.msgpack.encode(record)  # a copy, as a real store keeps


class FixedQueueBacklog(QueueBacklog):
    def __init__(self, queued: int = 0, oldest_age_s: float = 0.0) -> None:
        self.backlog = Backlog(queued=queued, oldest_age_s=oldest_age_s)

    async def measure(self) -> Backlog:
        return self.backlog


class NullMetrics(Metrics):
    """METRICS=false: nothing is recorded, `/metrics` is not served."""

    def request(self, route: str, method: str, status: int, seconds: float, sent_bytes: int, encoding: str) -> None:
        pass

    def slow_request(self, route: str) -> None:
        pass

    def cache(self, cache: str, result: str) -> None:
        pass

    def query(self, name: str, seconds: float) -> None:
        pass

    def pool(self, *, size: int, idle: int, waiting: int, max_size: int, timeouts: int) -> None:
        pass

    def valkey_error(self, operation: str) -> None:
        pass

    def breaker(self, name: str, state: str) -> None:
        pass

    def host(self, cpu_percent: float, memory_percent: float) -> None:
        pass

    def reports(self, counts: dict[str, int], queue_depth: int, oldest_age_s: float) -> None:
        pass

    def report_attempt(self, outcome: str, seconds: float) -> None:
        pass

    def costs(self, *, instance_hour: float, bandwidth_gb: float, fixed_month: float, budget: float) -> None:
        pass

    def instance_bounds(self, process: str, minimum: int, maximum: int) -> None:
        pass

    def set_fleet(self, process: str, instances: int, desired: int, cpu: float, memory: float) -> None:
        pass

    def watch(self, sample: Callable[[], None]) -> Callable[[], None]:
        return lambda: None

    async def run(self) -> None:
        return

    async def exposition(self) -> tuple[bytes, str] | None:
        return None

    def close(self) -> None:
        pass


class InMemoryMetrics(NullMetrics):
    """Remembers what was recorded: `counts[("cache", "holdings", "hit")]`, `gauges`, `observed`."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, ...]] = Counter()
        self.gauges: dict[tuple[str, ...], float] = {}
        self.observed: dict[tuple[str, ...], list[float]] = {}
        self.watchers: list[Callable[[], None]] = []

    def _observe(self, key: tuple[str, ...], value: float) -> None:
        self.observed.setdefault(key, []).append(value)

    def request(self, route: str, method: str, status: int, seconds: float, sent_bytes: int, encoding: str) -> None:
        self.counts[("request", route, method, str(status))] += 1
        self.counts[("sent", route, encoding)] += sent_bytes
        self._observe(("request", route), seconds)

    def slow_request(self, route: str) -> None:
        self.counts[("slow", route)] += 1

    def cache(self, cache: str, result: str) -> None:
        self.counts[("cache", cache, result)] += 1

    def query(self, name: str, seconds: float) -> None:
        self._observe(("query", name), seconds)

    def pool(self, *, size: int, idle: int, waiting: int, max_size: int, timeouts: int) -> None:
        self.gauges.update({("pool", "size"): size, ("pool", "idle"): idle, ("pool", "waiting"): waiting})
        self.gauges[("pool", "max")] = max_size
        self.counts[("pool", "timeouts")] += timeouts

    def valkey_error(self, operation: str) -> None:
        self.counts[("valkey_error", operation)] += 1

    def breaker(self, name: str, state: str) -> None:
        self.gauges[("breaker", name)] = {"closed": 0, "half-open": 1}.get(state, 2)

    def reports(self, counts: dict[str, int], queue_depth: int, oldest_age_s: float) -> None:
        self.gauges.update({("reports", status): count for status, count in counts.items()})
        self.gauges[("queue", "depth")] = queue_depth
        self.gauges[("queue", "oldest_age_s")] = oldest_age_s

    def report_attempt(self, outcome: str, seconds: float) -> None:
        self.counts[("report", outcome)] += 1
        self._observe(("report",), seconds)

    def set_fleet(self, process: str, instances: int, desired: int, cpu: float, memory: float) -> None:
        self.gauges.update({("fleet", process, "instances"): instances, ("fleet", process, "desired"): desired})

    def watch(self, sample: Callable[[], None]) -> Callable[[], None]:
        self.watchers.append(sample)
        return lambda: self.watchers.remove(sample)

    async def exposition(self) -> tuple[bytes, str] | None:
        lines = [f"{'_'.join(key)} {value}" for key, value in sorted(self.counts.items())]
        return "\n".join(lines).encode(), "text/plain; charset=utf-8"


class InMemoryReportStatistics(ReportStatistics):
    def __init__(self, reports: InMemoryReportRepository) -> None:
        self._reports = reports

    async def counts(self) -> dict[str, int]:
        return dict(Counter(report.status for report in self._reports.rows.values()))
