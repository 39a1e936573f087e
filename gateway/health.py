"""Health for the platform: liveness, readiness, and /health with its scaling signal."""

import os

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from gateway.dependencies import services_of
from gateway.health_schemas import HealthView, LiveView, NotReadyProblem, ReadyView, checks_view, health_view
from gateway.openapi_schemas import problems
from gateway.problems import PROBLEM_JSON

# Open routes: only a Host this API does not serve (when ALLOWED_HOSTS is set) is refused.
FOREIGN_HOST = problems(400, notes={400: "The Host header names a host this API does not serve"})
READY = ResponseSpec(
    data_container=ReadyView, description="The database answers; `degraded` names a cache or broker that does not"
)
NOT_READY = ResponseSpec(
    data_container=NotReadyProblem,
    media_type=PROBLEM_JSON,
    description="The database does not answer, or the instance is stopping: take it out of the router; `down` names"
    " what is down",
    generate_examples=False,
)


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get(
        "/",
        operation_id="health",
        summary="Load, scaling recommendation and dependency checks",
        responses=FOREIGN_HOST,
    )
    async def health(self, state: State) -> HealthView:
        return health_view(await services_of(state).health.report())

    @get("/live", operation_id="liveness", summary="200 while the process serves", responses=FOREIGN_HOST)
    async def live(self) -> LiveView:
        return LiveView()

    @get(
        "/ready",
        operation_id="readiness",
        summary="200 while the database answers (`degraded`, naming the cache or broker, when they do not);"
        " 503 naming what is down when the database does not, or while the instance is stopping",
        responses={**FOREIGN_HOST, 200: READY, 503: NOT_READY},
    )
    async def ready(self, state: State) -> Response[ReadyView | NotReadyProblem]:
        # The cache and the broker fail open (reads go to PostgreSQL, the sweeper sends reports later),
        # so only a critical dependency takes an instance out of the router: a Valkey outage must not
        # make every instance unready at once.
        services = services_of(state)
        retry = str(services.settings.retry_after_s)
        drain_file = services.settings.web_drain_file
        # Stopping: out of rotation before the listener closes (a stat of a local temporary file: microseconds).
        if drain_file and os.path.exists(drain_file):  # noqa: ASYNC240
            body = NotReadyProblem(detail="not ready: this instance is stopping", down=[], checks={})
            return Response(body, status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": retry})
        checks = await services.health.checks()
        down = sorted(name for name, check in checks.items() if check.status == "down")
        if not services.health.critical.intersection(down):
            return Response(ReadyView(status="degraded" if down else "ready", down=down, checks=checks_view(checks)))
        body = NotReadyProblem(detail="not ready: " + ", ".join(down) + " down", down=down, checks=checks_view(checks))
        return Response(body, status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": retry})
