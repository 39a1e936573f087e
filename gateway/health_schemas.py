"""Health on the wire: the load and scaling signal, liveness, readiness, and the not-ready problem."""

from typing import Literal

import msgspec

from domain.services.health import DependencyCheck, HealthReport, ScaleRecommendation


class DependencyCheckView(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["up", "down"]
    latency_ms: float
    error: str | None = None


class HealthView(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["healthy", "degraded", "unhealthy"]
    cpu_percent: float
    memory_percent: float
    scale_recommendation: ScaleRecommendation
    checks: dict[str, DependencyCheckView]


class LiveView(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["alive"] = "alive"


class ReadyView(msgspec.Struct, frozen=True, kw_only=True):
    """200: the database answers; `degraded` names the cache or broker when they do not (both fail open)."""

    status: Literal["ready", "degraded"]
    down: list[str]
    checks: dict[str, DependencyCheckView]


class NotReadyProblem(msgspec.Struct, frozen=True, kw_only=True):
    """503 problem details naming what is down, with every check."""

    type: str = "about:blank"
    title: str = "Service Unavailable"
    status: Literal[503] = 503
    detail: str
    down: list[str]
    checks: dict[str, DependencyCheckView]


def checks_view(checks: dict[str, DependencyCheck]) -> dict[str, DependencyCheckView]:
    return {
        name: DependencyCheckView(status=check.status, latency_ms=check.latency_ms, error=check.error)
        for name, check in checks.items()
    }


def health_view(report: HealthReport) -> HealthView:
    return HealthView(
        status=report.status,
        cpu_percent=report.cpu_percent,
        memory_percent=report.memory_percent,
        scale_recommendation=report.scale_recommendation,
        checks=checks_view(report.checks),
    )
