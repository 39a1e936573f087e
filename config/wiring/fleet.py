"""Every process's place in the fleet view: its heartbeat, and a share of computing each type's decision."""

import contextlib
import os
import socket
import time

from config.scaling import web_scaling_policy, worker_scaling_policy
from config.wiring.background import run_in_background
from config.wiring.reports import report_backlog
from config.wiring.resources import Resources
from domain.adapters.valkey_fleet import ValkeyFleetRegistry
from domain.services.fleet import WEB, WORKER, FleetService, Identity


def join_fleet(resources: Resources, stack: contextlib.AsyncExitStack) -> FleetService:
    """Start this process's heartbeat (its type is the resources' role) until the stack closes."""
    settings = resources.settings
    me = Identity(
        process=resources.role,
        instance=settings.instance_id or socket.gethostname(),
        pid=os.getpid(),
        started_at=time.time(),
    )
    fleet = FleetService(
        ValkeyFleetRegistry(resources.valkey),
        resources.host,
        {WEB: web_scaling_policy(settings), WORKER: worker_scaling_policy(settings)},
        me=me,
        backlog=report_backlog(resources),
        heartbeat_s=settings.fleet_heartbeat_s,
        ttl_s=settings.fleet_heartbeat_ttl_s,
        metrics=resources.metrics,  # folio_fleet_instances, folio_desired_instances, ... after every heartbeat
        clock=resources.clock,
    )
    run_in_background(stack, fleet.run(), "fleet-heartbeat")
    return fleet
