"""Request telemetry and the `/metrics` route.

`RequestTelemetry` is what the request-context middleware (the outermost layer, so both the
portfolio fast lane and Litestar are covered) does per request: the `Server-Timing` header (time in
the database, the cache, the app's own code, and the total, in ms), one metrics record labelled by
route template (Litestar's, or the fast lane's; `unmatched` for requests answered before routing:
404s, 429s from the rate limiter, foreign hosts), and a warning for a request slower than
`SLOW_REQUEST_MS`. `/metrics` serves the Prometheus exposition of every process to operators.
"""

import asyncio
import logging
import time
from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State

from config.settings import Settings
from domain.errors import NotFoundError
from domain.models.slow_requests import SlowRequest
from domain.ports.metrics import Metrics
from domain.timing import RequestTiming
from gateway.dependencies import ServicesHandle, services_of
from gateway.openapi_schemas import problems
from gateway.security import operator_only

log = logging.getLogger("folio.slow")
# Routes that stay open for as long as their client wants (event streams): never "slow".
LONG_LIVED = frozenset({"/api/user/{user_id}/portfolio/stream", "/console/events"})

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ENCODINGS = {b"gzip": "gzip", b"br": "br", b"zstd": "zstd"}
PROBLEMS = problems(400, 401, 403, 404, 429, notes={403: "Operators only", 404: "Metrics are off (METRICS=false)"})


def server_timing(timing: RequestTiming, elapsed_s: float) -> bytes:
    """The W3C Server-Timing value: database, cache, the app's own time and the total, in ms."""
    db, cache, total = timing.db_s * 1000, timing.cache_s * 1000, elapsed_s * 1000
    app = max(total - db - cache, 0.0)
    return b"db;dur=%.3f, cache;dur=%.3f, app;dur=%.3f, total;dur=%.3f" % (db, cache, app, total)


def content_encoding(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"content-encoding":
            return ENCODINGS.get(value, "other")
    return "identity"


class RequestTelemetry:
    """Per request, at its end: the metrics record and, past the threshold, the slow-request warning."""

    def __init__(self, handle: ServicesHandle, settings: Settings) -> None:
        self.handle = handle
        self.record = settings.metrics
        self.slow_s = settings.slow_request_ms / 1000
        self._metrics: Metrics | None = None
        self._writes: set[asyncio.Task[None]] = set()  # slow requests being kept for the console

    def _find_metrics(self) -> Metrics | None:
        services = self.handle.services
        self._metrics = services.metrics if services is not None else None
        return self._metrics

    def finished(
        self, scope: Any, status: int, seconds: float, timing: RequestTiming, sent: int, encoding: str, rid: bytes
    ) -> None:
        route: str = scope.get("path_template") or UNMATCHED
        method: str = scope["method"] if scope["method"] in METHODS else "OTHER"
        slow = seconds > self.slow_s and route not in LONG_LIVED
        if self.record and (metrics := self._metrics or self._find_metrics()) is not None:
            metrics.request(route, method, status, seconds, sent, encoding)
            if slow:
                metrics.slow_request(route)
        if slow:
            self._warn(scope, route, method, status, seconds, timing, rid)

    def _warn(
        self, scope: Any, route: str, method: str, status: int, seconds: float, timing: RequestTiming, rid: bytes
    ) -> None:
        total_ms, db_ms, cache_ms = seconds * 1000, timing.db_s * 1000, timing.cache_s * 1000
        self._keep(SlowRequest(
            at=time.time(), method=method, route=route, path=scope["path"], status=status, total_ms=round(total_ms, 3),
            db_ms=round(db_ms, 3), cache_ms=round(cache_ms, 3), app_ms=round(max(total_ms - db_ms - cache_ms, 0.0), 3),
            server_timing=(scope.get("state", {}).get("server_timing") or server_timing(timing, seconds)).decode(),
            request_id=rid.decode(),
        ))  # fmt: skip
        log.warning(
            "slow request: %s %s took %.1f ms (database %.1f ms, cache %.1f ms)",
            method, route, total_ms, db_ms, cache_ms,
            extra={
                "route": route, "method": method, "path": scope["path"], "status": status,
                "total_ms": round(total_ms, 3), "db_ms": round(db_ms, 3), "cache_ms": round(cache_ms, 3),
                "handler_ms": round(max(total_ms - db_ms - cache_ms, 0.0), 3), "request_id": rid.decode(),
            },
        )  # fmt: skip

    def _keep(self, request: SlowRequest) -> None:
        """Keep it for the console after the response, on the loop: never on the request's path."""
        services = self.handle.services
        if services is None:
            return
        task = asyncio.get_running_loop().create_task(services.slow_requests.record(request))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)


class MetricsController(Controller):
    path = "/metrics"
    tags = ["operations"]

    @get(
        "/",
        operation_id="metrics",
        summary="Operators: Prometheus exposition of every process on this host",
        description="Also served without authentication on METRICS_BIND when that is set. 404 when METRICS=false.",
        guards=[operator_only],
        opt={"operator_only": True},
        media_type="text/plain",
        responses=PROBLEMS,
    )
    async def exposition(self, state: State) -> Response[bytes]:
        exposition = await services_of(state).metrics.exposition()
        if exposition is None:
            raise NotFoundError("metrics are off (METRICS=false)")
        body, content_type = exposition
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
