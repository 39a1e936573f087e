"""One sampler per web process feeds every console it serves: the work does not grow with the consoles.

Every 2 s while a console is open (every 10 s otherwise, for the history alone) it reads the metrics
exposition (which merges every process of the host) off the event loop, and, while someone watches,
the dead letters and dead webhook deliveries. Each reading becomes one encoded `snapshot` event that
every open console is sent as it is. A 10 s point goes into a ring of one hour (360 points): bounded
memory, never touched by a request but the console's own.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from config.queues import DELIVER_WEBHOOK_ACTOR, GENERATE_REPORT_ACTOR, QUEUE_ACTORS
from config.wiring.web import WebServices
from domain.errors import DomainError
from domain.models.fleet import Backlog
from domain.models.reports import Report
from domain.models.webhooks import Delivery
from domain.ports.metric_history import Point
from domain.services.fleet import FleetView
from gateway.console import panels
from gateway.dependencies import ServicesHandle

log = logging.getLogger("folio.console")

TICK_S = 2.0
POINT_S = 10.0
HISTORY_POINTS = 360  # one hour of 10 s points
DEAD_LETTERS = 50
RETRY = b"retry: 3000\n\n"
HEARTBEAT = b": heartbeat\n\n"

_json = msgspec.json.Encoder()


def event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _json.encode(data) + b"\n\n"


def report_row(r: Report) -> dict[str, Any]:
    return {"actor": GENERATE_REPORT_ACTOR, "id": r.id, "user_id": r.user_id, "attempts": r.attempts,
            "error": r.error, "email_status": r.email_status, "finished_at": r.finished_at}  # fmt: skip


def delivery_row(d: Delivery) -> dict[str, Any]:
    last = d.attempts[-1] if d.attempts else None
    reason = None if last is None else (last.error or f"HTTP {last.status_code}")
    return {"actor": DELIVER_WEBHOOK_ACTOR, "id": d.id, "endpoint_id": d.endpoint_id, "user_id": d.user_id,
            "event_type": d.event_type, "attempts": len(d.attempts), "reason": reason,
            "finished_at": d.finished_at}  # fmt: skip


async def actor_rows(services: WebServices, now: panels.Reading, before: panels.Reading) -> list[dict[str, Any]]:
    """One line per actor: its queue's waiting messages and oldest age, and what the actor finishes per second."""
    throughput = panels.actors(now, before)
    rows: list[dict[str, Any]] = []
    for queue, names in QUEUE_ACTORS.items():
        try:
            backlog: Backlog | None = await services.queue_backlogs[queue].measure()
        except DomainError:
            backlog = None  # the broker is not answering: the line says so rather than a zero
        rows.extend({"actor": actor, "queue": queue, "depth": None if backlog is None else backlog.queued,
                     "oldest_age_s": None if backlog is None else round(backlog.oldest_age_s, 1),
                     **throughput.get(actor, {})} for actor in names)  # fmt: skip
    return rows


def _fleet(v: FleetView) -> dict[str, Any]:
    return {"process": v.process, "live": v.live_instances, "desired": v.desired, "direction": v.direction,
            "reason": v.reason, "cooldown_until": v.cooldown_until}  # fmt: skip


def point(now: panels.Reading, before: panels.Reading) -> dict[str, Any]:
    """One history point: the few numbers the charts draw."""
    traffic, cache, database = panels.traffic(now, before), panels.cache(now, before), panels.database(now)
    return {
        "t": round(now.at, 1), "rps": traffic["rps"], "p50_ms": traffic["p50_ms"], "p99_ms": traffic["p99_ms"],
        "errors_per_s": traffic["errors_per_s"], "hit_ratio": cache["hit_ratio"], "pool_in_use": database["in_use"],
        "queue_depth": now.gauges.get("folio_report_queue_depth", 0.0),
        "projected_usd": panels.cost(now, before)["projected_usd"],
    }  # fmt: skip


class ConsoleFeed:
    """Samples while the process runs (`run`); `stream()` is one console's events."""

    def __init__(self, handle: ServicesHandle, *, tick_s: float = TICK_S, point_s: float = POINT_S) -> None:
        self.handle = handle
        self.tick_s = tick_s
        self.point_s = point_s
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_POINTS)
        self.latest: bytes | None = None
        self.watchers = 0
        self.draining = False
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._tick: panels.Reading | None = None
        self._point: panels.Reading | None = None
        self._sampled_at = 0.0
        self.remote: list[Point] | None = None  # the hour read from Prometheus (PROMETHEUS_URL), while it answers
        self._fetched_at = 0.0

    async def run(self) -> None:
        while not self.draining:
            services = self.handle.services
            if services is not None:
                try:
                    await self.sample(services)
                except (DomainError, OSError, ValueError) as e:
                    log.warning("console sample failed: %s", e)
                await self._fetch_history(services)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_s if self.watchers else self.point_s)
            self._wake.clear()

    async def sample(self, services: WebServices) -> None:
        exposition = await services.metrics.exposition()
        text = exposition[0].decode() if exposition is not None else ""
        reading = await asyncio.to_thread(panels.read, text, time.time())
        before, self._tick = self._tick or reading, reading
        if self._point is None:
            self._point = reading
        elif reading.at - self._point.at >= self.point_s * 0.95:
            self.history.append(point(reading, self._point))
            self._point = reading
        if self.watchers:
            self.latest = event("snapshot", await self._snapshot(services, reading, before))
            self._sampled_at = reading.at
            self._changed.set()
            self._changed = asyncio.Event()

    async def _fetch_history(self, services: WebServices) -> None:
        """Every 10 s, the hour from Prometheus when it is configured; its own ring while Prometheus fails."""
        if services.history is None or time.time() - self._fetched_at < self.point_s * 0.95:
            return
        self._fetched_at = time.time()
        try:
            self.remote = await services.history.hour(self._fetched_at, self.point_s)
        except DomainError as e:
            self.remote = None
            log.warning("console history not read from Prometheus (showing this process's own): %s", e)

    def hour(self) -> list[Any]:
        return self.remote if self.remote is not None else list(self.history)

    async def _snapshot(self, services: WebServices, now: panels.Reading, before: panels.Reading) -> dict[str, Any]:
        snapshot: dict[str, Any] = {
            "at": now.at,
            "point": point(now, before),
            "traffic": panels.traffic(now, before),
            "cache": panels.cache(now, before),
            "database": panels.database(now),
            "queue": panels.queue(now, before),
            "host": panels.host(now),
            "cost": panels.cost(now, before),
            "slow_request_ms": services.settings.slow_request_ms,
            "history_from": "prometheus" if self.remote is not None else "folio",
        }
        try:
            snapshot["slow_requests"] = [msgspec.structs.asdict(r) for r in await services.slow_requests.recent()]
        except DomainError as e:
            snapshot["slow_unavailable"] = str(e)
        snapshot["queue"]["actors"] = await actor_rows(services, now, before)
        try:
            pause = await services.report_ops.pause()
            snapshot["paused"] = None if pause is None else {"by": pause.paused_by, "at": pause.paused_at}
            failed = await services.reports.by_status("failed", limit=DEAD_LETTERS, cursor=None)
            snapshot["dead_letters"] = [report_row(r) for r in failed.items]
            dead = await services.webhooks.dead(limit=DEAD_LETTERS, cursor=None)
            snapshot["dead_deliveries"] = [delivery_row(d) for d in dead.items]
            if services.fleet is not None:
                snapshot["fleet"] = [_fleet(v) for v in await services.fleet.views()]
        except DomainError as e:  # the database is down: the metrics still show, the lists say why not
            snapshot["unavailable"] = str(e)
        return snapshot

    def refresh(self) -> None:
        """Sample now (after an action), rather than at the next tick."""
        self._wake.set()

    def stopping(self) -> bool:
        return self.draining

    def drain(self) -> None:
        """SIGTERM: end every console's stream (each reconnects to another instance) and stop sampling."""
        self.draining = True
        self._changed.set()
        self._wake.set()

    async def stream(self, expires_at: float) -> AsyncIterator[bytes]:
        """One console's events: the hour's history, then each snapshot, until its session expires."""
        self.watchers += 1
        changed = self._changed  # taken before the sample is asked for, so its snapshot is not missed
        self.refresh()
        try:
            recent = (
                self.latest if self.latest is not None and time.time() - self._sampled_at < self.tick_s * 2 else b""
            )
            yield RETRY + event("history", self.hour()) + recent  # another console's fresh snapshot: at once
            while not self.draining and time.time() < expires_at:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), self.tick_s * 5)
                if self.stopping():
                    break
                if changed.is_set() and self.latest is not None:
                    changed = self._changed
                    yield self.latest
                else:
                    yield HEARTBEAT
            if not self.draining:
                yield event("expired", {"reason": "the console session has expired: sign in again"})
        finally:
            self.watchers -= 1
