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
        summary="200 when database, cache and broker answer; 503 naming what does not",
    )
    async def ready(self, state: State) -> Response[dict[str, object]]:
        services = services_of(state)
        checks = await services.health.checks()
        down = sorted(name for name, check in checks.items() if check.status == "down")
        if not down:
            return Response({"status": "ready", "checks": checks})
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
