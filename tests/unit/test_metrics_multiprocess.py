"""The Prometheus adapter across real processes: batched histograms stay exact, counters add up over
processes, a killed process's gauges leave the merge, and the first process after all have exited
starts from an empty folder. Each process here is a fresh interpreter, as a Granian worker is."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.adapters.prometheus import Batch
from domain.adapters.prometheus_files import claim_directory, collect
from tests.http.test_metrics import PORTFOLIO, parse, value

ROOT = Path(__file__).resolve().parents[2]
RECORD = """
import os, sys
from pathlib import Path
from domain.adapters.prometheus import open_prometheus
metrics = open_prometheus(Path(sys.argv[1]))
for seconds in map(float, sys.argv[3].split(",")):
    metrics.request("/api/user/{user_id}/portfolio", "GET", 200, seconds, 100, "br")
metrics.pool(size=int(sys.argv[4]), idle=0, waiting=0, max_size=50, timeouts=0)
metrics.tick()  # publish, and reap the live gauges of processes that are gone
if sys.argv[2] == "killed":
    os._exit(0)  # no close, no atexit: as SIGKILL leaves it
metrics.close()
"""


def record(directory: Path, durations: list[float], *, pool_size: int = 1, ending: str = "closed") -> None:
    args = [sys.executable, "-c", RECORD, str(directory), ending, ",".join(map(str, durations)), str(pool_size)]
    subprocess.run(args, cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_batch_puts_each_observation_in_the_first_bucket_that_holds_it():
    batch = Batch((0.001, 0.01))
    for seconds in (0.0005, 0.001, 0.002, 0.01, 5.0):
        batch.observe(("r",), seconds)
    [series] = batch.take().values()
    assert series.buckets == [2, 2, 1]  # le 0.001, le 0.01, +Inf
    assert series.total == pytest.approx(5.0135)
    assert batch.take() == {}


def test_published_histograms_are_exact_and_processes_add_up(tmp_path: Path):
    lock = claim_directory(tmp_path)  # a live process on the folder (this one), as sibling workers are
    try:
        record(tmp_path, [0.0005, 0.002, 0.2])
        record(tmp_path, [20.0])
        samples = parse(collect(tmp_path).decode())
    finally:
        os.close(lock)
    labels = {"route": PORTFOLIO, "method": "GET", "status": "200"}
    assert value(samples, "folio_http_requests_total", **labels) == 4
    assert value(samples, "folio_http_request_duration_seconds_count", **labels) == 4
    assert value(samples, "folio_http_request_duration_seconds_sum", **labels) == pytest.approx(20.2025)
    buckets = {le: value(samples, "folio_http_request_duration_seconds_bucket", **labels, le=le) for le in
               ("0.001", "0.0025", "0.25", "10.0", "+Inf")}  # fmt: skip
    assert buckets == {"0.001": 1, "0.0025": 2, "0.25": 3, "10.0": 3, "+Inf": 4}
    assert value(samples, "folio_http_response_bytes_total", route=PORTFOLIO, encoding="br") == 400


def test_a_killed_process_keeps_its_counts_but_its_gauges_leave(tmp_path: Path):
    lock = claim_directory(tmp_path)  # a live process on the folder (this one): nothing is wiped
    try:
        record(tmp_path, [0.001], pool_size=7, ending="killed")
        assert value(parse(collect(tmp_path).decode()), "folio_db_pool_size") == 7
        record(tmp_path, [0.001], pool_size=3, ending="killed")  # reaps the first one's gauges
        samples = parse(collect(tmp_path).decode())
    finally:
        os.close(lock)
    assert value(samples, "folio_db_pool_size") == 3
    assert value(samples, "folio_http_requests_total", route=PORTFOLIO, method="GET", status="200") == 2


def test_the_first_process_after_all_have_exited_starts_afresh(tmp_path: Path):
    record(tmp_path, [0.001, 0.001])
    record(tmp_path, [0.001])  # the first one has exited: its old files are wiped first
    samples = parse(collect(tmp_path).decode())
    assert value(samples, "folio_http_requests_total", route=PORTFOLIO, method="GET", status="200") == 1
