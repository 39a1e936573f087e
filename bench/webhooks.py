"""`python -m bench.webhooks` (part of `make bench`): webhook deliveries per second of one worker process.

`--deliveries` events are recorded at once in the outbox of a user with one endpoint, a receiver on this
machine answering 200 at once; then one worker process (relay, signing, the POST over the pooled client,
the record of each attempt) delivers them all. The figure is deliveries per second from the first arrival
to the last; every delivery must arrive once and be recorded `succeeded`. Starts embedded servers under
`.data/bench-webhooks/` (for unset URLs), writes `bench/results/webhooks.json`, and stops what it started.
"""

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import report
from cli.embedded import embedded, fresh_session_dir
from config.settings import load_settings
from config.wiring.release import migrate
from domain.models.webhooks import event_body, generate_secret
from tests.processes import ROOT, worker_process

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "webhooks.json"
SECRET = "bench-secret-bench-secret-bench-secret-0123456789"  # noqa: S105 - a throwaway local key
_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class Receiver:
    """A minimal keep-alive HTTP/1.1 receiver on an asyncio loop in a thread: counts POSTs by webhook-id."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.first = self.last = 0.0
        self.port = 0
        self._ready = threading.Event()
        threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True).start()
        self._ready.wait(10)

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                fields = dict(line.partition(b":")[::2] for line in head.split(b"\r\n")[1:] if line)
                fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
                await reader.readexactly(int(fields.get(b"content-length", b"0")))
                self._arrived(fields.get(b"webhook-id", b"").decode())
                writer.write(_OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _arrived(self, msg_id: str) -> None:
        now = time.perf_counter()
        self.first = self.first or now
        self.last = now
        self.ids.append(msg_id)


def _record_events(database_url: str, url: str, count: int) -> None:
    """One user with one endpoint, and `count` events in the outbox, as the business writes record them."""
    body = event_body("user.updated", datetime.now(UTC), {"user_id": 0, "changed": ["name"]})
    with psycopg.connect(database_url, autocommit=True) as conn:
        email = f"bench-{time.time_ns()}@example.com"
        row = conn.execute("INSERT INTO users (email, name) VALUES (%s, 'Bench') RETURNING id", (email,)).fetchone()
        assert row is not None
        conn.execute(
            "INSERT INTO webhook_endpoints (user_id, url, events, secret) VALUES (%s, %s, %s, %s)",
            (row[0], url, ["user.updated"], generate_secret()),
        )
        conn.execute(
            "INSERT INTO webhook_outbox (user_id, event_type, payload)"
            " SELECT %s, 'user.updated', %s FROM generate_series(1, %s)",
            (row[0], body, count),
        )


def _succeeded(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'").fetchone()
    return int(row[0]) if row else 0


def deliveries_per_second(env: dict[str, str], count: int, threads: int, log_dir: Path) -> dict[str, Any]:
    receiver = Receiver()
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DELETE FROM webhook_endpoints")
    _record_events(env["DATABASE_URL"], f"http://127.0.0.1:{receiver.port}/hook", count)
    with worker_process(env, log_dir / f"worker-{threads}.log", processes=1, threads=threads):
        deadline = time.monotonic() + 600
        while _succeeded(env["DATABASE_URL"]) < count and time.monotonic() < deadline:
            time.sleep(0.2)
    span = receiver.last - receiver.first
    return {
        "what": f"{count} deliveries to a local receiver, 1 worker process x {threads} thread(s)",
        "threads": threads,
        "arrived": len(receiver.ids),
        "distinct": len(set(receiver.ids)),
        "succeeded": _succeeded(env["DATABASE_URL"]),
        "per_second": round(len(receiver.ids) / span, 1) if span > 0 else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks")
    parser.add_argument("--deliveries", type=int, default=2000, help="deliveries per run (default %(default)s)")
    parser.add_argument("--threads", default="1,4", help="worker thread counts to run (default %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results (default %(default)s)")
    args = parser.parse_args()
    data_dir = fresh_session_dir(ROOT / ".data" / "bench-webhooks")
    results: dict[str, Any] = {}
    with embedded(os.environ, data_dir, fast=True) as servers:
        env = {**servers.env(), "JWT_SECRET": SECRET, "ACCESS_LOG": "false", "LOG_LEVEL": "WARNING",
               "ENVIRONMENT": "test", "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_RELAY_INTERVAL_S": "0.1"}  # fmt: skip
        migrate(load_settings(env))  # the Procfile's release step
        for threads in (int(t) for t in args.threads.split(",")):
            result = deliveries_per_second({**os.environ, **env}, args.deliveries, threads, data_dir)
            results[f"worker_{threads}_thread"] = result
            print(
                f"{result['what']}: {result['per_second']} deliveries/s; {result['arrived']} arrived"
                f" ({result['distinct']} distinct), {result['succeeded']} recorded succeeded",
                flush=True,
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {"date": report.now_iso(), "command": "python -m bench.webhooks", "machine": report.machine_info(""),
                "scenarios": results}  # fmt: skip
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
