"""What runs beside the soak's HTTP load: the process sampler, the report requests, the webhook endpoints.

Each runs in a thread of the soak's own process (none of them is a load the server is measured by):
the sampler reads every Folio process's RSS and open descriptors with psutil, the requester asks for
reports at a steady small rate as a few users would, and the webhook endpoints of a few users point at
a local receiver (bench/webhooks.py's), so their trades and reports make deliveries.
"""

import asyncio
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import psutil
import psycopg

from bench.soak_criteria import Failures, Sample
from domain.models.webhooks import generate_secret

WEBHOOK_EVENTS = ["trade.created", "report.succeeded", "report.failed"]
# Their trades (from the mix) and reports (the soak asks for users 1 to 5's) make deliveries.
WEBHOOK_USERS = range(1, 51)


def process_labels(roots: Mapping[str, tuple[int, str]]) -> dict[str, psutil.Process]:
    """`{"web master": (pid, "web worker")}` -> each root by its label, its descendants as "web worker 1", ..."""
    found: dict[str, psutil.Process] = {}
    for label, (pid, children_label) in roots.items():
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            found[label] = root
            children = sorted(root.children(recursive=True), key=lambda p: p.pid)
            for i, child in enumerate(children, 1):
                found[f"{children_label} {i}"] = child
    return found


class Sampler:
    """Every `interval_s`, each Folio process's (RSS, open fds), the time counted from `t0`."""

    def __init__(self, roots: Mapping[str, tuple[int, str]], t0: float, interval_s: float,
                 steady: Callable[[], bool]) -> None:  # fmt: skip
        # `steady`: whether the load runs now (not between two minutes' wrk runs, whose connections close).
        self.roots, self.t0, self.interval_s, self.steady = roots, t0, interval_s, steady
        self.samples: list[Sample] = []
        self.pids: dict[str, set[int]] = {}  # a label with more than one pid: that process was restarted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def sample(self) -> None:
        figures: dict[str, tuple[int, int]] = {}
        for label, proc in process_labels(self.roots).items():
            with contextlib.suppress(psutil.Error):
                figures[label] = (proc.memory_info().rss, proc.num_fds())
                self.pids.setdefault(label, set()).add(proc.pid)
        self.samples.append(Sample(round(time.monotonic() - self.t0, 1), figures))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.steady():
                self.sample()


def read_every_portfolio(base_url: str, tokens: Mapping[int, str], connections: int = 32) -> tuple[int, int]:
    """GET every user's portfolio once, each with its own token: (answered 200, other answers).

    The mix reads Zipf-distributed users, so the rarest ones are first read minutes into a run; until each
    has been, the caches that hold one entry per user (verified credentials, holdings, encoded bodies) keep
    filling. Read once here, before the clock starts, the run measures a server whose caches are full."""

    async def read_all() -> tuple[int, int]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for user in tokens:
            queue.put_nowait(user)
        counts = [0, 0]
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:

            async def reader() -> None:
                while not queue.empty():
                    user = queue.get_nowait()
                    answer = await http.get(f"/api/user/{user}/portfolio",
                                            headers={"Authorization": f"Bearer {tokens[user]}"})  # fmt: skip
                    counts[answer.status_code != 200] += 1

            await asyncio.gather(*(reader() for _ in range(connections)))
        return counts[0], counts[1]

    return asyncio.run(read_all())


class ReportRequester:
    """POST /api/generate-report every `interval_s`, each time for the next of `users`, with its own token."""

    def __init__(self, base_url: str, tokens: Mapping[int, str], interval_s: float) -> None:
        self.base_url, self.tokens, self.interval_s = base_url, tokens, interval_s
        self.task_ids: list[str] = []
        self.refused: list[int] = []  # statuses other than 202
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        users = sorted(self.tokens)
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            i = 0
            while not self._stop.wait(self.interval_s if i else 0):
                user = users[i % len(users)]
                i += 1
                try:
                    answer = http.post(f"/api/generate-report?user_id={user}",
                                       headers={"Authorization": f"Bearer {self.tokens[user]}"})  # fmt: skip
                except httpx.HTTPError:
                    self.refused.append(0)
                    continue
                if answer.status_code == 202:
                    self.task_ids.append(answer.json()["task_id"])
                else:
                    self.refused.append(answer.status_code)


def reports_not_succeeded(database_url: str, ids: Sequence[str], timeout_s: float) -> tuple[int, dict[str, int]]:
    """(how many of `ids` did not succeed, count per status) once all are finished or `timeout_s` passed."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute("SELECT status, count(*) FROM reports WHERE id = ANY(%s) GROUP BY status",
                                (list(ids),)).fetchall()  # fmt: skip
            statuses = {str(status): int(count) for status, count in rows}
            finished = statuses.get("succeeded", 0) + statuses.get("failed", 0)
            if finished >= len(ids) or time.monotonic() > deadline:
                return len(ids) - statuses.get("succeeded", 0), statuses
            time.sleep(1)


def register_endpoints(database_url: str, users: range, url: str) -> None:
    """One endpoint per user in `users` for their trades and reports, as a user's createWebhook stores it.

    Written directly: the web runs as production, which (rightly) refuses an endpoint on this machine."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for user in users:
            conn.execute("INSERT INTO webhook_endpoints (user_id, url, events, secret) VALUES (%s, %s, %s, %s)",
                         (user, url, WEBHOOK_EVENTS, generate_secret()))  # fmt: skip


def deliveries(database_url: str, users: range, timeout_s: float) -> dict[str, int]:
    """The deliveries to `users`' endpoints per status, `report_events` (those of reports) and `outbox` (events
    not fanned out yet), once none is pending or `timeout_s` passed."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT status, count(*) FROM webhook_deliveries WHERE user_id BETWEEN %s AND %s GROUP BY status",
                (users.start, users.stop - 1),
            ).fetchall()
            statuses = {str(status): int(count) for status, count in rows}
            reported = conn.execute(
                "SELECT count(*) FROM webhook_deliveries"
                " WHERE user_id BETWEEN %s AND %s AND event_type LIKE 'report.%%'",
                (users.start, users.stop - 1),
            ).fetchone()
            statuses["report_events"] = int(reported[0]) if reported else 0
            waiting = conn.execute("SELECT count(*) FROM webhook_outbox WHERE user_id BETWEEN %s AND %s",
                                   (users.start, users.stop - 1)).fetchone()  # fmt: skip
            statuses["outbox"] = int(waiting[0]) if waiting else 0
            if not (statuses.get("pending") or statuses["outbox"]) or time.monotonic() > deadline:
                return statuses
            time.sleep(1)


def stream_figures(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The stream generator's JSON line once its run ends ({} if it failed)."""
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        return {}
    lines = out.decode().strip().splitlines()
    return json.loads(lines[-1]) if proc.returncode == 0 and lines else {}


def drain(database_url: str, requester: ReportRequester, streams: dict[str, Any], received_ids: Callable[[], int],
          wanted_streams: int, drain_s: float) -> dict[str, Any]:  # fmt: skip
    """After the load: the streams' figures, the reports and deliveries once finished, as Failures
    (`received_ids`: the distinct deliveries the receiver has got, asked once every delivery has ended)."""
    print(f"--> waiting for {len(requester.task_ids)} reports and their webhook deliveries", flush=True)
    not_ok, report_statuses = reports_not_succeeded(database_url, requester.task_ids, drain_s)
    hooks = deliveries(database_url, WEBHOOK_USERS, drain_s)
    received = received_ids()
    finished = report_statuses.get("succeeded", 0) + report_statuses.get("failed", 0)
    notes = [f"report requests refused: {requester.refused}"] if requester.refused else []
    # Every finished report of these users is an event their endpoint subscribed to: a missing one was lost.
    # And every delivery recorded succeeded arrived here: the receiver counts what a user's server would see.
    lost = max(0, finished - hooks.get("report_events", 0)) + max(0, hooks.get("succeeded", 0) - received)
    failures = Failures(
        streams_not_open=wanted_streams - int(streams.get("open", 0)),
        streams_dropped=int(streams.get("open", 0)) - int(streams.get("still_open", 0)),
        reports_not_succeeded=not_ok + len(requester.refused),
        webhooks_not_delivered=hooks.get("pending", 0) + hooks.get("dead", 0) + hooks.get("outbox", 0) + lost,
        notes=notes if streams else [*notes, "the stream generator gave no figures"],
    )
    reports = {"requested": len(requester.task_ids), **report_statuses}
    webhooks = {**hooks, "received_distinct": received}
    return {"streams": streams, "failures": failures, "reports": reports, "webhooks": webhooks}
