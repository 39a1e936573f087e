"""The multi-host rehearsal's short form (`make fleet` runs the long one): two app hosts behind HAProxy, each
in its own network namespace, scenarios 1-3 with short report deadlines. Needs root; skips elsewhere, saying
why, and fails under `CI`, which must be able to run it."""

import os

import pytest

from bench.fleet.hosts import ROOT
from bench.fleet.install import unavailable_reason
from bench.fleet.rehearsal import Options, rehearse

pytestmark = pytest.mark.integration


def test_two_hosts_stay_coherent_restart_without_failures_and_lose_a_host_without_losing_work() -> None:
    if (reason := unavailable_reason()) is not None:
        message = f"the fleet rehearsal cannot run here: {reason}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    options = Options(ROOT / ".data" / "fleet-test", trials=20, connections=8, capacity_s=0)
    assert rehearse(options) == []
