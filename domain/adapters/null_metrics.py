"""Metrics switched off (METRICS=false): every recording is a no-op."""

from collections.abc import Callable

from domain.ports.metrics import Metrics


class NullMetrics(Metrics):
    """METRICS=false: nothing is recorded, `/metrics` is not served."""

    enabled = False

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

    def worker_message(self, actor: str, outcome: str) -> None:
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
