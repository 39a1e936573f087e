"""Operators: the fleet view, per process type, with the autoscaling policy's decision."""

from datetime import UTC, datetime
from typing import Literal

import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from domain.errors import UnavailableError
from domain.services.fleet import WEB, WORKER, FleetView, InstanceView
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems


class ProcessOut(msgspec.Struct, frozen=True, kw_only=True):
    pid: int
    cpu_percent: float
    memory_percent: float
    seen_s_ago: float  # since its last heartbeat
    started_at: datetime


class InstanceOut(msgspec.Struct, frozen=True, kw_only=True):
    instance: str  # INSTANCE_ID, or the host name: the unit a platform scales
    cpu_percent: float
    memory_percent: float
    processes: list[ProcessOut]


class FleetOut(msgspec.Struct, frozen=True, kw_only=True):
    live_instances: int
    live_processes: int
    instances: list[InstanceOut]
    latest: dict[str, float]  # the fleet now (unsmoothed)
    metrics: dict[str, float]  # what the decision used: each tracked metric's mean over the window
    desired: int | None  # None until some process has computed a decision
    direction: Literal["out", "in", "hold"] | None  # the activity the latest decision started
    reason: str
    cooldown_until: datetime | None  # when the next scaling in that direction is allowed
    decided_at: datetime | None


class ScalingOut(msgspec.Struct, frozen=True, kw_only=True):
    web: FleetOut
    worker: FleetOut


def _at(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, tz=UTC)


def _instance(view: InstanceView) -> InstanceOut:
    processes = [
        ProcessOut(
            pid=p.pid,
            cpu_percent=p.cpu_percent,
            memory_percent=p.memory_percent,
            seen_s_ago=p.seen_s_ago,
            started_at=datetime.fromtimestamp(p.started_at, tz=UTC),
        )
        for p in view.processes
    ]
    return InstanceOut(
        instance=view.instance, cpu_percent=view.cpu_percent, memory_percent=view.memory_percent, processes=processes
    )


def _fleet(view: FleetView) -> FleetOut:
    return FleetOut(
        live_instances=view.live_instances,
        live_processes=view.live_processes,
        instances=[_instance(i) for i in view.instances],
        latest=view.latest,
        metrics=view.metrics,
        desired=view.desired,
        direction=view.direction,
        reason=view.reason,
        cooldown_until=_at(view.cooldown_until),
        decided_at=_at(view.decided_at),
    )


class OpsController(Controller):
    path = "/api/ops"
    tags = ["operations"]

    @get(
        "/scaling",
        operation_id="getScaling",
        summary="Operators: live instances, fleet metrics and the autoscaling decision, per process type",
        opt={"operator_only": True},
        responses=problems(400, 401, 403, 429, 503, notes={403: "Operators only"}),
    )
    async def scaling(self, state: State) -> ScalingOut:
        fleet = services_of(state).fleet
        if fleet is None:
            raise UnavailableError("the fleet view is not running in this process")
        return ScalingOut(web=_fleet(await fleet.view(WEB)), worker=_fleet(await fleet.view(WORKER)))
