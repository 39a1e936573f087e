"""Capacity through HAProxy: the mixed load's throughput with one host in rotation, then two."""

import asyncio

from bench.fleet.faults import mixed_load
from bench.fleet.figures import Figures
from bench.fleet.fleet import Fleet
from bench.fleet.lb import command, wait_status


async def measure(fleet: Fleet, connections: int, seconds: float) -> float:
    """Successful requests per second of the mixed load (10% trades) over `seconds`, after a short warm-up."""
    await mixed_load(fleet, connections).run(asyncio.Event(), seconds=2)
    result = await mixed_load(fleet, connections).run(asyncio.Event(), seconds=seconds)
    return (len(result.outcomes) - len(result.failures)) / result.seconds


async def capacity(fleet: Fleet, connections: int, seconds: float) -> Figures:
    figures = Figures("capacity through HAProxy (mixed load: 80% portfolio, 10% market data, 10% trades)")
    command(fleet.lb_socket, "disable server app/app2")
    try:
        await asyncio.to_thread(wait_status, fleet.lb_socket, "app2", "MAINT")
        one = await measure(fleet, connections, seconds)
    finally:
        command(fleet.lb_socket, "enable server app/app2")
    await asyncio.to_thread(wait_status, fleet.lb_socket, "app2", "UP")
    two = await measure(fleet, connections, seconds)
    figures.note("1 host (2 web workers)", f"{one:.0f} req/s")
    figures.note("2 hosts", f"{two:.0f} req/s")
    figures.note("scaling efficiency (2 hosts / 2 x 1 host)", f"{two / (2 * one) * 100:.0f} %")
    return figures
