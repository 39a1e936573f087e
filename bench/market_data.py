"""GET /api/market-data as clients see it: bytes per coding on the demo data, and while quotes tick.

Under ticks, the development quote simulator moves 10% of the prices a tick, as `make run` does;
the body of each coding is then decoded (its own identity size), recompressed here at the documents'
levels (does the server send exactly that body? and what does it cost this machine's CPU?).
"""

import contextlib
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import brotli
import zstandard

from bench.servers import ROOT, die_with_parent, get, pinned
from gateway.content_coding import DOCUMENT_LEVELS, Coding, compress

PATH = "/api/market-data"
CODINGS: tuple[Coding, ...] = ("gzip", "br", "zstd")
DECODE: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda body: zstandard.ZstdDecompressor().decompress(body),
}
# Ticks four times as fast as `make run`, so that 45 versions (0.9**45: 99% of the prices moved, the
# content of a long-running feed) take ~20 s rather than a minute; then samples a second apart.
TICK_INTERVAL_S = 0.25
TICK_FRACTION = 0.1
SETTLE_VERSIONS = 45
SETTLE_TIMEOUT_S = 180.0
SAMPLES = 10
SAMPLE_GAP_S = 1.0


def market_data_sizes(port: int, headers: Mapping[str, str]) -> dict[str, object]:
    """Raw and compressed sizes of /api/market-data per Accept-Encoding, and the % each saves."""
    sizes: dict[str, object] = {}
    raw = None
    for encoding in ("identity", *CODINGS):
        status, response_headers, body = get(port, PATH, {**headers, "Accept-Encoding": encoding})
        sent = response_headers.get("content-encoding", "identity")
        if status != 200:
            sizes[encoding] = {"status": status}
            continue
        raw = len(body) if encoding == "identity" else raw
        saved = round(100 * (1 - len(body) / raw), 1) if raw and sent != "identity" else None
        sizes[encoding] = {"status": status, "content_encoding": sent, "bytes": len(body), "saved_pct": saved}
    savings = [v.get("saved_pct") for k, v in sizes.items() if k in ("br", "zstd") and isinstance(v, dict)]
    sizes["raw_bytes"] = raw
    sizes["best_br_zstd_saved_pct"] = max((s for s in savings if s is not None), default=None)
    return sizes


def ticking_sizes(
    port: int, headers: Mapping[str, str], env: Mapping[str, str], log: Path, seed: int
) -> dict[str, Any]:
    """Sizes per coding while the simulator ticks, once it has moved (nearly) every price."""
    with quote_simulator(env, log, seed, TICK_INTERVAL_S) as simulator:
        first = _version(port, headers)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while _version(port, headers) < first + SETTLE_VERSIONS:
            if simulator.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the quote simulator published too few versions; log {log}")
            time.sleep(0.5)
        samples = []
        for _ in range(SAMPLES):
            samples.append({coding: _sample(port, headers, coding) for coding in CODINGS})
            time.sleep(SAMPLE_GAP_S)
    return _summary(samples, first)


@contextlib.contextmanager
def quote_simulator(
    env: Mapping[str, str], log: Path, seed: int, interval_s: float, cpu: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """The development quote feed, moving TICK_FRACTION of the prices every `interval_s` (pinned to `cpu`)."""
    command = pinned([sys.executable, "-m", "cli", "simulate", "--interval", str(interval_s),
                      "--fraction", str(TICK_FRACTION), "--seed", str(seed)], cpu)  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--allow-production"],  # the bench serves the production configuration
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - it only calls prctl
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _version(port: int, headers: Mapping[str, str]) -> int:
    status, _, body = get(port, PATH, {**headers, "Accept-Encoding": "gzip"})
    if status != 200:
        raise RuntimeError(f"GET {PATH} answered {status}")
    return int(json.loads(gzip.decompress(body))["version"])


def _sample(port: int, headers: Mapping[str, str], coding: Coding) -> dict[str, Any]:
    """One body as sent, its size against its own identity, and whether it is the documents' level."""
    status, response_headers, body = get(port, PATH, {**headers, "Accept-Encoding": coding})
    if status != 200 or response_headers.get("content-encoding") != coding:
        raise RuntimeError(f"GET {PATH} in {coding}: {status} {response_headers.get('content-encoding')}")
    identity = DECODE[coding](body)
    started = time.process_time()
    again = compress(identity, coding, DOCUMENT_LEVELS)
    cpu_ms = 1000 * (time.process_time() - started)
    return {
        "version": int(json.loads(identity)["version"]),
        "bytes": len(body),
        "identity_bytes": len(identity),
        "pct_of_identity": 100 * len(body) / len(identity),
        "at_document_level": again == body,
        "compress_ms": cpu_ms,
    }


def _summary(samples: list[dict[Coding, dict[str, Any]]], first_version: int) -> dict[str, Any]:
    versions = [s[c]["version"] for s in samples for c in CODINGS]
    result: dict[str, Any] = {
        "simulator": {"interval_s": TICK_INTERVAL_S, "fraction": TICK_FRACTION, "settle_versions": SETTLE_VERSIONS},
        "versions": [first_version, min(versions), max(versions)],
        "samples": len(samples),
        "identity_bytes": round(statistics.median(s["br"]["identity_bytes"] for s in samples)),
    }
    for coding in CODINGS:
        rows = [s[coding] for s in samples]
        pcts = [r["pct_of_identity"] for r in rows]
        result[coding] = {
            "level": DOCUMENT_LEVELS[coding],
            "bytes": round(statistics.median(r["bytes"] for r in rows)),
            "pct_median": round(statistics.median(pcts), 2),
            "pct_max": round(max(pcts), 2),
            "compress_ms": round(statistics.median(r["compress_ms"] for r in rows), 1),
            "at_document_level": sum(r["at_document_level"] for r in rows),
        }
        result[f"{coding}_pct_max"] = result[coding]["pct_max"]
    result["compress_ms_per_version"] = round(sum(result[c]["compress_ms"] for c in CODINGS), 1)
    return result
