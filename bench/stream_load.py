"""`python -m bench.stream_load`: hold N live portfolio streams on one server while quotes tick; print JSON.

The load generator of the stream figures (bench/streams.py runs it on the other core). One asyncio
process: N raw HTTP/1.1 connections, each reading only its events' `id:` lines, and a publisher that
moves a fraction of the equities' prices once a second through the operator's ingest route. The lag of
an event is the time from the start of the publish of its quote version to the moment its bytes are
read here (the publish lands on the server under test, so its own time is in the lag: `ingest_p50_ms`
says how much; `after_answer` counts from the publish's answer instead, 0 for an event that came
first). The figures say how busy this process itself was (its CPU and how late its own event loop
ran), since a saturated generator adds its own delay to every lag it reports.
"""

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import psutil
import uvloop

from domain.services.quote_simulator import step_price

_ID = re.compile(rb"(?m)^id: (\d+)\.")
_LOOP_PROBE_S = 0.05
# Past either, this generator's own delay is a real part of the lags it reports: it says so in its figures.
_BUSY_CPU_PCT = 80.0
_BUSY_LOOP_DELAY_MS = 25.0


class Clock:
    """The publishes' start times per version, and the lags of the events read, in seconds."""

    def __init__(self) -> None:
        self.published: dict[int, float] = {}
        self.answered: dict[int, float] = {}  # when each publish's answer came back
        self.after_answer: list[float] = []  # lags counted from the answer instead (0 when the event came first)
        self.ingests: list[float] = []  # how long each publish took to answer
        self.lags: list[float] = []
        self.events = 0
        self.recording = False


class StreamReader(asyncio.Protocol):
    """One stream: sends the request, checks the status line, records each event's lag."""

    def __init__(self, request: bytes, clock: Clock, opened: asyncio.Future[int]) -> None:
        self.request = request
        self.clock = clock
        self.opened = opened
        self.head = b""
        self.rest = b""
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.WriteTransport, transport).write(self.request)  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if not self.opened.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.opened.set_result(int(self.head[9:12]))
            data, self.head = self.head[end + 4 :], b""
        data = self.rest + data
        cut = data.rfind(b"\n") + 1
        self.rest = data[cut:]
        clock = self.clock
        for match in _ID.finditer(data, 0, cut):
            clock.events += 1
            version = int(match.group(1))
            published = clock.published.get(version)
            if clock.recording and published is not None:
                clock.lags.append(now - published)
                clock.after_answer.append(max(0.0, now - clock.answered.get(version, now)))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_result(0)


async def open_streams(args: argparse.Namespace, tokens: list[tuple[str, str]], clock: Clock) -> list[StreamReader]:
    loop = asyncio.get_running_loop()
    host, port = args.url.removeprefix("http://").split(":")
    gate = asyncio.Semaphore(args.open_concurrency)
    readers: list[StreamReader] = []

    async def one(i: int) -> None:
        user, token = tokens[i % len(tokens)]
        request = (f"GET /api/user/{user}/portfolio/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode()  # fmt: skip
        async with gate:
            opened: asyncio.Future[int] = loop.create_future()
            try:
                transport, reader = await loop.create_connection(
                    lambda: StreamReader(request, clock, opened), host, int(port)
                )
                status = await asyncio.wait_for(opened, 120)
            except (OSError, TimeoutError):
                return
            if status == 200:
                readers.append(reader)
            else:
                transport.close()

    await asyncio.gather(*(one(i) for i in range(args.streams)), return_exceptions=True)
    return readers


async def publish_forever(args: argparse.Namespace, operator: str, clock: Clock) -> None:
    """Move `fraction` of the equities' prices every second, as one quote version each."""
    rng = random.Random(args.seed)
    headers = {"Authorization": f"Bearer {operator}"}
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=10) as http:
        quotes = (await http.get("/api/market-data")).json()["quotes"]
        prices = {q["symbol"]: Decimal(str(q["price"])) for q in quotes if not q["symbol"].startswith("CASH-")}
        symbols = sorted(prices)
        while True:
            started = time.monotonic()
            moved = rng.sample(symbols, max(1, int(len(symbols) * args.fraction)))
            batch = []
            for symbol in moved:
                prices[symbol] = step_price(prices[symbol], rng, 0.002)
                batch.append({"symbol": symbol, "price": str(prices[symbol])})
            answer = await http.put("/api/market-data/quotes", json={"quotes": batch})
            if answer.status_code == 200:
                version = answer.json()["version"]
                clock.published[version], clock.answered[version] = started, time.monotonic()
                if clock.recording:
                    clock.ingests.append(time.monotonic() - started)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


async def probe_loop(delays: list[float]) -> None:
    """How late this process's own event loop runs: the generator's contribution to every lag."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(_LOOP_PROBE_S)
        delays.append(time.monotonic() - before - _LOOP_PROBE_S)


def tree_cpu_and_rss(pid: int) -> tuple[float, int]:
    root = psutil.Process(pid)
    cpu, rss = 0.0, 0
    for proc in (root, *root.children(recursive=True)):
        times = proc.cpu_times()
        cpu += times.user + times.system
        rss += proc.memory_info().rss
    return cpu, rss


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


async def run(args: argparse.Namespace, lines: list[list[str]]) -> dict[str, Any]:
    operator = next(token for name, token in lines if name == "operator")
    tokens = [(name, token) for name, token in lines if name != "operator"]
    clock = Clock()
    _, rss_before = tree_cpu_and_rss(args.server_pid)
    opening = time.monotonic()
    readers = await open_streams(args, tokens, clock)
    opened_in = time.monotonic() - opening
    publisher = asyncio.create_task(publish_forever(args, operator, clock))
    delays: list[float] = []
    prober = asyncio.create_task(probe_loop(delays))
    await asyncio.sleep(args.warmup)
    clock.recording, delays[:] = True, []
    cpu_before, _ = tree_cpu_and_rss(args.server_pid)
    own_before, started = time.process_time(), time.monotonic()
    await asyncio.sleep(args.seconds)
    wall = time.monotonic() - started
    cpu_after, rss_after = tree_cpu_and_rss(args.server_pid)
    own = time.process_time() - own_before
    clock.recording = False
    publisher.cancel()
    prober.cancel()
    alive = sum(not r.closed for r in readers)
    loader_cpu_pct, loop_delay_p99_ms = round(own / wall * 100, 1), pct(delays, 0.99)
    return {
        "streams": args.streams, "open": len(readers), "still_open": alive, "opened_in_s": round(opened_in, 1),
        "versions": sum(1 for t in clock.published.values() if t >= started - 1), "events": len(clock.lags),
        "ingest_p50_ms": pct(clock.ingests, 0.50),
        "after_answer_p50_ms": pct(clock.after_answer, 0.50), "after_answer_p99_ms": pct(clock.after_answer, 0.99),
        "lag_p50_ms": pct(clock.lags, 0.50), "lag_p99_ms": pct(clock.lags, 0.99), "lag_max_ms": pct(clock.lags, 1.0),
        "server_cpu_pct": round((cpu_after - cpu_before) / wall * 100, 1),
        "server_rss_mb": round(rss_after / 2**20, 1),
        "rss_per_stream_kb": round((rss_after - rss_before) / max(1, len(readers)) / 1024, 1),
        "loader_cpu_pct": loader_cpu_pct, "loader_loop_delay_p99_ms": loop_delay_p99_ms,
        "loader_limited": loader_cpu_pct > _BUSY_CPU_PCT or (loop_delay_p99_ms or 0.0) > _BUSY_LOOP_DELAY_MS,
        "load_average_1m": round(os.getloadavg()[0], 1),  # above the core count: others share the machine
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--tokens", required=True, help="`<user> <token>` lines and an `operator <token>` line")
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--fraction", type=float, default=0.1, help="of the equities moved each second")
    parser.add_argument("--open-concurrency", type=int, default=32, help="streams being opened at a time")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    lines = [line.split() for line in Path(args.tokens).read_text().splitlines() if line.strip()]
    # uvloop, as the server runs: the generator must outrun the server it measures.
    print(json.dumps(uvloop.run(run(args, lines))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
