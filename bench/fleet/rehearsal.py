"""The rehearsal as a whole: build the fleet, run scenarios 1-3 (and the capacity figures), collect what failed."""

import asyncio
from dataclasses import dataclass
from pathlib import Path

from bench.fleet.capacity import capacity
from bench.fleet.coherence import coherence
from bench.fleet.faults import host_loss, rolling_restart
from bench.fleet.figures import Figures
from bench.fleet.fleet import Fleet, open_fleet


@dataclass(frozen=True)
class Options:
    data_dir: Path
    trials: int = 100  # trade-then-read trials across hosts
    connections: int = 16  # load clients during the scenarios (64 wrk connections for the capacity figures)
    capacity_s: int = 15  # seconds per capacity measurement; 0: none
    report_deadline_s: float = 20.0  # REPORT_DEADLINE_S on every host
    # PgBouncer (transaction mode) on the db host between the processes and PostgreSQL: needs the pooler-safe
    # database sessions (DATABASE_DIRECT_URL for migrations, locks and LISTEN; no server-side prepared statements).
    pgbouncer: bool = False


async def scenarios(fleet: Fleet, options: Options) -> list[Figures]:
    done = [await coherence(fleet, trials=options.trials)]
    done.append(await rolling_restart(fleet, connections=options.connections))
    done.append(await host_loss(fleet, connections=options.connections))
    if options.capacity_s > 0:
        await asyncio.to_thread(fleet.apps["app2"].start)  # the lost host comes back for the measurement
        done.append(await capacity(fleet, connections=64, seconds=options.capacity_s))
    return done


def rehearse(options: Options) -> list[str]:
    """Every figure that missed its bound (empty: all held); everything started is gone when this returns."""
    with open_fleet(
        options.data_dir, report_deadline_s=options.report_deadline_s, pgbouncer=options.pgbouncer
    ) as fleet:
        figures = asyncio.run(scenarios(fleet, options))
    return [failure for f in figures for failure in f.failures]
