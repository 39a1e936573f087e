"""Health for the platform: liveness, readiness, and the seed's /health with its scaling signal."""

from litestar import Controller, Response, get
from litestar.datastructures import State

from domain.services.health import HealthReport
from gateway.dependencies import services_of
from gateway.problems import PROBLEM_JSON


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/", operation_id="health", summary="Load, scaling recommendation and dependency checks")
    async def health(self, state: State) -> HealthReport:
        return await services_of(state).health.report()

    @get("/live", operation_id="liveness", summary="200 while the process serves")
    async def live(self) -> dict[str, str]:
        return {"status": "alive"}

    @get(
        "/ready",
        operation_id="readiness",
        summary="200 while the database answers (`degraded`, naming the cache or broker, when they do not);"
        " 503 naming what is down when the database does not",
    )
    async def ready(self, state: State) -> Response[dict[str, object]]:
        # The cache and the broker fail open (reads go to PostgreSQL, the sweeper sends reports later),
        # so only a critical dependency takes an instance out of the router: a Valkey outage must not
        # make every instance unready at once.
        services = services_of(state)
        checks = await services.health.checks()
        down = sorted(name for name, check in checks.items() if check.status == "down")
        if not services.health.critical.intersection(down):
            return Response({"status": "degraded" if down else "ready", "down": down, "checks": checks})
        body: dict[str, object] = {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "not ready: " + ", ".join(down) + " down",
            "down": down,
            "checks": checks,
        }
        retry = str(services.settings.retry_after_s)
        return Response(body, status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": retry})
