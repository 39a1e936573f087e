"""What runs beside the soak's HTTP load: the process sampler, the report requests, the webhook endpoints.

Each runs in a thread of the soak's own process (none of them is a load the server is measured by):
the sampler reads every Folio process's RSS and open descriptors with psutil, the requester asks for
reports at a steady small rate as a few users would, and the webhook endpoints of a few users point at
a local receiver (bench/webhooks.py's), so their trades and reports make deliveries.
"""

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence

import httpx
import psutil
import psycopg

from bench.soak_criteria import Sample
from domain.models.webhooks import generate_secret

WEBHOOK_EVENTS = ["trade.created", "report.succeeded", "report.failed"]


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

    def __init__(self, roots: Mapping[str, tuple[int, str]], t0: float, interval_s: float) -> None:
        self.roots, self.t0, self.interval_s = roots, t0, interval_s
        self.samples: list[Sample] = []
        self.pids: dict[str, set[int]] = {}  # a label with more than one pid: that process was restarted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sample()  # the last point: the state at the end of the load

    def sample(self) -> None:
        figures: dict[str, tuple[int, int]] = {}
        for label, proc in process_labels(self.roots).items():
            with contextlib.suppress(psutil.Error):
                figures[label] = (proc.memory_info().rss, proc.num_fds())
                self.pids.setdefault(label, set()).add(proc.pid)
        self.samples.append(Sample(round(time.monotonic() - self.t0, 1), figures))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()


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
