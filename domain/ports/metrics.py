"""Metrics: counts and timings for operators."""

from abc import abstractmethod
from collections.abc import Callable
from typing import Protocol


class Metrics(Protocol):
    """Counts and timings for operators (Prometheus exposition in production, a recorder in tests).

    Every method is cheap and never raises. Recording methods are called on the event loop's
    thread unless they say otherwise. With METRICS=false, callers get `NullMetrics`, which records
    nothing: there is one kind of "no metrics", never a None to test for.
    """

    enabled: bool
    """False when nothing is recorded: callers may then skip the work of measuring (timing a query)."""

    @abstractmethod
    def request(self, route: str, method: str, status: int, seconds: float, sent_bytes: int, encoding: str) -> None:
        """One HTTP request answered: `route` is its template (never the raw path), `sent_bytes` its body."""

    @abstractmethod
    def slow_request(self, route: str) -> None:
        """One request took longer than the slow-request threshold."""

    @abstractmethod
    def cache(self, cache: str, result: str) -> None:
        """One cache lookup that ended a read: `hit`, `miss` (the record was read) or `error` (cache down)."""

    @abstractmethod
    def query(self, name: str, seconds: float) -> None:
        """One SQL statement, by its stable short name."""

    @abstractmethod
    def pool(self, *, size: int, idle: int, waiting: int, max_size: int, timeouts: int) -> None:
        """The connection pool now; `timeouts`: requests refused or timed out since the last call."""

    @abstractmethod
    def valkey_error(self, operation: str) -> None:
        """One failed Valkey command (any thread)."""

    @abstractmethod
    def breaker(self, name: str, state: str) -> None:
        """A circuit breaker is now `closed`, `half-open` or `open` (any thread)."""

    @abstractmethod
    def host(self, cpu_percent: float, memory_percent: float) -> None:
        """The host's latest load sample (any thread)."""

    @abstractmethod
    def reports(self, counts: dict[str, int], queue_depth: int, oldest_age_s: float) -> None:
        """Report rows per status, and the queue's depth and its oldest message's age, sampled now."""

    @abstractmethod
    def worker_message(self, actor: str, outcome: str) -> None:
        """A worker finished a message of `actor`: `done`, `failed` (raised), or `skipped`."""

    @abstractmethod
    def report_attempt(self, outcome: str, seconds: float) -> None:
        """One report attempt ended: `succeeded` or `failed` (final), `retry`, `superseded`."""

    @abstractmethod
    def costs(self, *, instance_hour: float, bandwidth_gb: float, fixed_month: float, budget: float) -> None:
        """The prices and the budget the cost alerts compute with (US dollars)."""

    @abstractmethod
    def instance_bounds(self, process: str, minimum: int, maximum: int) -> None:
        """The autoscaling bounds of a process type (`web`, `worker`), from settings."""

    @abstractmethod
    def set_fleet(self, process: str, instances: int, desired: int, cpu: float, memory: float) -> None:
        """The fleet view of one process type (`web`, `worker`): live and desired instances, mean load."""

    @abstractmethod
    def watch(self, sample: Callable[[], None]) -> Callable[[], None]:
        """Call `sample` (which records gauges, such as the pool's) on every tick; returns the unwatch."""

    @abstractmethod
    async def run(self) -> None:
        """Publish what this process recorded and call the watchers, every second, until cancelled."""

    @abstractmethod
    async def exposition(self) -> tuple[bytes, str] | None:
        """Every process's metrics in the Prometheus text format and its content type; None when disabled."""

    @abstractmethod
    def close(self) -> None:
        """Publish what is left; the last user in a process also stops the separate listener."""
