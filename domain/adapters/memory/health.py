"""In-memory twins of the health ports: a fixed host load, and a probe that answers as told."""

from domain.ports.health import HostMetrics


class FixedHostMetrics(HostMetrics):
    def __init__(self, cpu: float = 10.0, memory: float = 20.0) -> None:
        self.cpu = cpu
        self.memory = memory

    def cpu_percent(self) -> float:
        return self.cpu

    def memory_percent(self) -> float:
        return self.memory
