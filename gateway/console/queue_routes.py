"""The console's queue actions: dead letters by filter (reason, actor, age), the batch requeue of those that
match, cancelling a report, and pausing or resuming report processing. Admin only, CSRF-checked and audited
(the guard and the stores); outside the API contract like the rest of the console. Also the last slow
requests as JSON (what the Traffic panel lists), for an operator's curl."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from config.queues import DELIVER_WEBHOOK_ACTOR, GENERATE_REPORT_ACTOR
from domain.models.reports import DeadLetterFilter, ProcessingPause
from gateway.console.feed import DEAD_LETTERS, delivery_row, report_row
from gateway.console.routes import ACTION, actor_of, console_guard, session_of
from gateway.dependencies import services_of

Reason = Annotated[str, msgspec.Meta(max_length=200)] | None
Age = Annotated[float, msgspec.Meta(ge=0, le=366 * 86400)] | None
DeadActor = Literal["generate_report", "deliver_webhook"]


class Matching(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which report dead letters a batch requeue takes: by reason (text, any case) and age (seconds)."""

    reason: Reason = None
    older_than_s: Age = None

    def filter(self) -> DeadLetterFilter:
        return DeadLetterFilter(reason=(self.reason or "").strip() or None, older_than_s=self.older_than_s)


def _pause_out(pause: ProcessingPause | None) -> dict[str, Any]:
    if pause is None:
        return {"paused": False, "by": None, "at": None}
    return {"paused": True, "by": pause.paused_by, "at": pause.paused_at}


def _older(finished_at: datetime | None, older_than_s: float | None) -> bool:
    if older_than_s is None:
        return True
    return finished_at is not None and (datetime.now(UTC) - finished_at).total_seconds() >= older_than_s


class ConsoleQueueController(Controller):
    path = "/console"
    include_in_schema = False
    guards = [console_guard]

    @get("/dead-letters")
    async def dead_letters(
        self,
        state: State,
        actor: Annotated[DeadActor | None, QueryParameter()] = None,
        reason: Annotated[str | None, QueryParameter(max_length=200)] = None,
        older_than_s: Annotated[float | None, QueryParameter(ge=0)] = None,
    ) -> dict[str, list[dict[str, Any]]]:
        services, matching = services_of(state), Matching(reason=reason, older_than_s=older_than_s).filter()
        items: list[dict[str, Any]] = []
        if actor in (None, GENERATE_REPORT_ACTOR):
            items += [report_row(r) for r in await services.report_ops.dead_letters(matching, limit=DEAD_LETTERS)]
        if actor in (None, DELIVER_WEBHOOK_ACTOR):
            dead = (await services.webhooks.dead(limit=DEAD_LETTERS, cursor=None)).items
            needle = (matching.reason or "").lower()
            items += [row for d in dead if _older(d.finished_at, matching.older_than_s)
                      and needle in ((row := delivery_row(d))["reason"] or "").lower()]  # fmt: skip
        return {"items": items}

    @post("/dead-letters/requeue", opt={ACTION: True})
    async def requeue_matching(
        self, request: Request[Any, Any, Any], state: State, data: JSONBody[Matching]
    ) -> dict[str, Any]:
        caller = actor_of(request, session_of(request))
        done = await services_of(state).report_ops.requeue_matching(data.filter(), caller=caller)
        state.console_feed.refresh()
        return {"requeued": len(done), "ids": [r.id for r in done]}

    @post("/reports/{task_id:str}/cancel", opt={ACTION: True})
    async def cancel(self, request: Request[Any, Any, Any], state: State, task_id: FromPath[str]) -> dict[str, str]:
        report = await services_of(state).report_ops.cancel(task_id, caller=actor_of(request, session_of(request)))
        state.console_feed.refresh()
        return {"id": report.id, "status": report.status}

    @get("/slow-requests")
    async def slow_requests(self, state: State) -> dict[str, Any]:
        """The last 50 requests of every process over SLOW_REQUEST_MS, newest first (as the Traffic panel)."""
        services = services_of(state)
        items = [msgspec.structs.asdict(r) for r in await services.slow_requests.recent()]
        return {"threshold_ms": services.settings.slow_request_ms, "items": items}

    @get("/processing")
    async def processing(self, state: State) -> dict[str, Any]:
        return _pause_out(await services_of(state).report_ops.pause())

    @post("/processing/{change:str}", opt={ACTION: True})
    async def set_processing(
        self, request: Request[Any, Any, Any], state: State, change: FromPath[Literal["pause", "resume"]]
    ) -> dict[str, Any]:
        caller = actor_of(request, session_of(request))
        pause = await services_of(state).report_ops.set_paused(change == "pause", caller=caller)
        state.console_feed.refresh()
        return _pause_out(pause)
