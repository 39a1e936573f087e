"""The hexagon's ports: what the use cases need from the outside world, as Protocols.

The ports for operating the service (host load, metrics, the fleet) are in `domain.ops_ports`.
"""

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Protocol

from domain.models import (
    DailyClose,
    Email,
    FillTicket,
    Holdings,
    Order,
    QuoteSnapshot,
    QuoteUpdate,
    Report,
    ReportClaim,
    ReportDocument,
    ReportPage,
    ReportRequest,
    ReportStatus,
    TradePage,
    TradeResult,
)


class HoldingsRepository(Protocol):
    """The record of what each user owns."""

    @abstractmethod
    async def get(self, user_id: int) -> Holdings | None:
        """Return the user's holdings (possibly none); None when the user does not exist.

        Raises:
            UnavailableError: the store cannot answer now.
        """


class QuoteRepository(Protocol):
    """Where published quote snapshots are kept."""

    @abstractmethod
    async def latest_version(self) -> int:
        """The newest published snapshot version (0 when nothing is published)."""

    @abstractmethod
    async def load_snapshot(self, base_currency: str) -> QuoteSnapshot:
        """Every instrument with its latest quote, at the newest version."""

    @abstractmethod
    async def apply_quotes(self, updates: Sequence[QuoteUpdate]) -> int:
        """Store a batch of quotes and publish it as a new version, atomically; return that version.

        Ingests are serialised, so versions become visible in order. Day high/low widen to the new
        price, the previous close is kept, a missing bid/ask keeps the quote's relative spread.

        Raises:
            UnknownSymbolError: a symbol names no instrument (nothing is written).
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def daily_closes(self, instrument_id: int, days: int) -> tuple[DailyClose, ...]:
        """The instrument's last `days` daily closes, oldest first."""

    @abstractmethod
    async def daily_closes_many(self, instrument_ids: Sequence[int], days: int) -> dict[int, tuple[DailyClose, ...]]:
        """Each instrument's last `days` daily closes, oldest first, in one round trip (absent: no closes)."""


class DependencyProbe(Protocol):
    """One dependency that readiness depends on."""

    name: str

    @abstractmethod
    async def check(self) -> None:
        """Return when the dependency answers; raise any exception when it does not."""


class HoldingsCache(Protocol):
    """A shared cache of holdings in front of the repository. Failures read as misses, never raise."""

    @abstractmethod
    async def read(self, user_id: int) -> tuple[Holdings | None, FillTicket]:
        """The cached holdings (None on a miss or when the cache is down) and a ticket to fill a miss."""

    @abstractmethod
    async def fill(self, ticket: FillTicket, holdings: Holdings) -> bool:
        """Store `holdings` unless the user was invalidated since the ticket was issued; True if stored."""

    @abstractmethod
    async def invalidate(self, user_id: int) -> None:
        """Drop the user's entry, so that no fill that began earlier can store it again."""

    @abstractmethod
    async def lead_fill(self, user_id: int) -> bool:
        """True when this caller should load the user from the repository (a short lease across processes)."""

    @abstractmethod
    async def end_fill(self, user_id: int) -> None:
        """Give the lease back."""

    @abstractmethod
    async def await_fill(self, user_id: int) -> Holdings | None:
        """Wait (bounded) for another process's fill; None when it did not come."""

    @abstractmethod
    async def read_or_lead(self, user_id: int) -> tuple[Holdings | None, FillTicket, bool]:
        """`read`, and on a miss `lead_fill`, in one round trip: (holdings, ticket, this caller leads)."""

    @abstractmethod
    async def fill_and_end(self, ticket: FillTicket, holdings: Holdings | None) -> bool:
        """`fill` (when there is something to store) and `end_fill`, in one round trip; True if stored."""


class InvalidationBus(Protocol):
    """Carries "this user's holdings changed" to every process's in-process cache."""

    @abstractmethod
    def trusted(self) -> bool:
        """True while this process is known to receive every invalidation (its local cache may be used)."""

    @abstractmethod
    async def broadcast(self, user_id: int) -> None:
        """Return once every live process has applied the invalidation, or once a process that missed
        it can no longer trust its local cache (bounded either way)."""

    @abstractmethod
    async def listen(self, on_invalidate: Callable[[int], None], on_lost: Callable[[], None]) -> None:
        """Run until cancelled: apply invalidations from others; call `on_lost` whenever delivery may have gaps."""


class QuoteVersionBus(Protocol):
    """Tells every process at once that a new quote version is published (the database poll is the fallback)."""

    @abstractmethod
    async def announce(self, version: int) -> None:
        """Publish `version` to every listener; best effort: never raises."""

    @abstractmethod
    async def listen(self, on_version: Callable[[int], None]) -> None:
        """Run until cancelled, calling `on_version` for each announcement (and once after each
        (re)connection, with 0, since announcements may have been missed); reconnects by itself."""


class TradeStore(Protocol):
    """The record of trades and the holdings they move, changed together or not at all."""

    @abstractmethod
    async def place(self, user_id: int, order: Order, idempotency_key: str | None) -> TradeResult:
        """In one transaction: record the trade and apply it to the holding (`Position.apply`).

        A repeated `idempotency_key` returns the first result with `replayed=True`.

        Raises:
            UserNotFoundError, UnknownSymbolError, InsufficientHoldingsError, IdempotencyKeyReusedError.
        """

    @abstractmethod
    async def history(self, user_id: int, *, limit: int, before: int | None) -> TradePage:
        """The user's trades, newest first, with ids below `before`. Raises UserNotFoundError."""


class RateLimitStore(Protocol):
    """Counters shared by every process: one per (key, window), expiring with the window."""

    @abstractmethod
    async def add(self, deltas: Sequence[tuple[str, int, int]], ttl_s: int) -> list[int]:
        """Add each `(key digest, window number, delta)` and return the new totals, in order.

        Raises:
            UnavailableError: the store cannot answer now (the limiter then counts locally).
        """


class ReportRepository(Protocol):
    """The durable record of report requests. Every write of an attempt is fenced by its `attempt`
    number: once another attempt has claimed the report, a stale attempt's writes change nothing."""

    @abstractmethod
    async def create(self, user_id: int, idempotency_key: str | None, deadline_s: float) -> ReportRequest:
        """Insert a `queued` report due within `deadline_s`; a repeated key returns the first report.

        Raises:
            UserNotFoundError: no such user.
        """

    @abstractmethod
    async def get(self, report_id: str) -> Report | None:
        """The report without its document; None when there is no such report."""

    @abstractmethod
    async def document(self, report_id: str) -> bytes | None:
        """The stored PDF, or None."""

    @abstractmethod
    async def claim(self, report_id: str, lease_s: float) -> ReportClaim | None:
        """Move `queued` (or `running` past its deadline) to `running`, count the attempt, hold it for
        `lease_s`. None when the report is finished, held by a live attempt, or unknown."""

    @abstractmethod
    async def store_document(self, claim: ReportClaim, document: bytes) -> bool:
        """Keep the PDF; False when the claim is stale."""

    @abstractmethod
    async def set_email_status(self, claim: ReportClaim, status: str, *, expected: str) -> bool:
        """Move the email status from `expected` to `status`; False when it was not `expected`, or when
        the move leaves or enters `pending` and the claim is stale (the caller must then not send).
        The outcome of an email already handed over (`sending` to `sent`) is recorded even for a
        superseded attempt: it is what happened."""

    @abstractmethod
    async def finish(self, claim: ReportClaim, status: ReportStatus, error: str | None) -> bool:
        """End the attempt as `succeeded` or `failed` (with the reason); False when the claim is stale."""

    @abstractmethod
    async def release(self, claim: ReportClaim, error: str, deadline_s: float) -> bool:
        """Put the report back to `queued` after a transient failure (the reason kept in `error`)."""

    @abstractmethod
    async def requeue_stale(self, deadline_s: float, limit: int) -> list[str]:
        """Reports in `queued` or `running` past their deadline, put back to `queued` with a new deadline.

        Safe under concurrent sweepers: each stale report is returned to one of them.
        """

    @abstractmethod
    async def by_status(self, status: ReportStatus, *, limit: int, cursor: str | None) -> ReportPage:
        """Reports in `status`, newest first, paged by the opaque `cursor` of the previous page.

        Raises:
            InvalidRequestError: the cursor is not one this repository gave out.
        """


class ReportQueue(Protocol):
    """Wakes a worker for a report. At most a hint: the repository row is the record."""

    @abstractmethod
    async def send(self, report_id: str) -> None:
        """Ask a worker to run the report.

        Raises:
            UnavailableError: the broker cannot take the message now (the sweeper sends it later).
        """


class ReportRenderer(Protocol):
    """Turns a report's figures into a document a person reads (CPU-bound; called off the event loop)."""

    @abstractmethod
    def render(self, document: ReportDocument) -> bytes:
        """The PDF bytes."""


class Mailer(Protocol):
    """Sends one email and says for certain whether it was handed over."""

    @abstractmethod
    async def send(self, email: Email) -> None:
        """Return once the server accepted the message (SMTP 250).

        Raises:
            MailNotSentError: the message was certainly not accepted (refused, unreachable): retry.
            MailOutcomeUnknownError: the connection broke after the message was handed over.
        """
