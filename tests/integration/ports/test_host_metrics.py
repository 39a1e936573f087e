"""One contract for the host's load, run against the fixed twin and the real psutil sampler."""

import time
from collections.abc import Iterator

import pytest

from domain.adapters.host_metrics import PsutilHostMetrics
from domain.adapters.memory.health import FixedHostMetrics
from domain.ports.health import HostMetrics

pytestmark = pytest.mark.integration
INTERVAL_S = 0.05


@pytest.fixture(params=["fixed", "psutil"])
def host(request: pytest.FixtureRequest) -> Iterator[HostMetrics]:
    if request.param == "fixed":
        yield FixedHostMetrics()
        return
    sampler = PsutilHostMetrics(INTERVAL_S)
    sampler.start()
    time.sleep(3 * INTERVAL_S)  # a few samples: the first reading after start is not one
    yield sampler
    started = time.monotonic()
    sampler.stop()
    assert time.monotonic() - started < 2  # stopping waits for at most one interval


def test_readings_are_percentages(host: HostMetrics):
    for _ in range(3):
        cpu, memory = host.cpu_percent(), host.memory_percent()
        assert isinstance(cpu, float)
        assert isinstance(memory, float)
        assert 0.0 <= cpu <= 100.0
        assert 0.0 <= memory <= 100.0
        time.sleep(INTERVAL_S)


def test_reading_never_waits_for_a_sample(host: HostMetrics):
    started = time.monotonic()
    for _ in range(10_000):
        host.cpu_percent()
        host.memory_percent()
    assert time.monotonic() - started < 1.0  # one blocking sample (psutil's interval=...) would take longer


def test_the_real_host_uses_memory():
    sampler = PsutilHostMetrics(INTERVAL_S)
    assert sampler.memory_percent() > 0  # read at construction: valid before the first interval
    sampler.start()
    try:
        time.sleep(3 * INTERVAL_S)
        assert sampler.memory_percent() > 0
    finally:
        sampler.stop()
