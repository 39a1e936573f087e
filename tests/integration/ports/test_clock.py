"""One contract for the clock, run against the fixed twin and the system clock."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.adapters.clock import SystemClock
from domain.adapters.memory.clock import FixedClock
from domain.ports.clock import Clock

pytestmark = pytest.mark.integration


@pytest.fixture(params=["fixed", "system"])
def clock(request: pytest.FixtureRequest) -> Clock:
    return FixedClock() if request.param == "fixed" else SystemClock()


def test_now_is_aware_and_in_utc(clock: Clock):
    now = clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert now.astimezone(UTC) == now


def test_time_and_now_tell_the_same_time(clock: Clock):
    before = clock.time()
    now = clock.now().timestamp()
    after = clock.time()
    assert before - 1e-3 <= now <= after + 1e-3
    assert datetime.fromtimestamp(after, UTC) >= datetime.fromtimestamp(before, UTC)


def test_the_system_clock_is_the_wall_clock():
    assert abs(SystemClock().now() - datetime.now(UTC)) < timedelta(seconds=1)
