"""In-memory twins of the health ports: a fixed host load, and a probe that answers as told."""

from domain.ports.health import DependencyProbe, HostMetrics


class FixedHostMetrics(HostMetrics):
    def __init__(self, cpu: float = 10.0, memory: float = 20.0) -> None:
        self.cpu = cpu
        self.memory = memory

    def cpu_percent(self) -> float:
        return self.cpu

    def memory_percent(self) -> float:
        return self.memory


class StaticProbe(DependencyProbe):
    """A dependency that answers until `failure` is set, then raises it on every check."""

    def __init__(self, name: str, failure: Exception | None = None) -> None:
        self.name = name
        self.failure = failure

    async def check(self) -> None:
        if self.failure is not None:
            raise self.failure
