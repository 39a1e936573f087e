import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.processes import ROOT

pytestmark = [pytest.mark.integration]


async def started(proc: subprocess.Popen) -> str:
    """The simulator's output up to its first line (it has started: its signal handlers follow at once)."""
    lines = []
    while not (lines and lines[-1].startswith("simulator: moving")):
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout=60)
        assert line, "".join(lines)  # it ended before it started
        lines.append(line.decode())
    return "".join(lines)


async def test_the_simulator_publishes_moving_prices_until_stopped(client, process_env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "simulate", "--interval", "0.2", "--fraction", "0.01", "--seed", "3"],
        cwd=ROOT,
        env={**os.environ, **process_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    first = ""
    try:
        # Versions count from when it runs: another test's publication (a close, an ingest) is not the simulator's.
        first = await started(proc)
        before = (await client.get("/api/market-data", headers={"accept-encoding": "gzip"})).json()
        old = {q["symbol"]: q["price"] for q in before["quotes"]}
        deadline = time.monotonic() + 20
        after, moved = before, []
        while (after["version"] < before["version"] + 2 or not moved) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            after = (await client.get("/api/market-data", headers={"accept-encoding": "gzip"})).json()
            # (an instrument another test added since is not the simulator's doing)
            moved = [q for q in after["quotes"] if q["symbol"] in old and q["price"] != old[q["symbol"]]]
    finally:
        proc.send_signal(signal.SIGTERM)
        output = first + proc.communicate(timeout=15)[0].decode()
    assert proc.returncode == 0, output
    assert after["version"] >= before["version"] + 2, output
    assert moved
    assert all(q["asset_class"] != "cash" for q in moved)


def test_the_simulator_refuses_production(process_env):
    env = {**os.environ, **process_env, "ENVIRONMENT": "production"}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "simulate"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "production" in result.stderr
