"""`make fleet`: a multi-host rehearsal on one machine (namespaces `db`, `app1`, `app2`, `lb`), then its figures.

Needs root (network namespaces) and HAProxy (Debian's package, installed here when root). Elsewhere it
says why and exits 0, having done nothing. It stops by itself; Ctrl-C or SIGTERM clean up as a failure does.
"""

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from bench.fleet.capacity import capacity
from bench.fleet.coherence import coherence
from bench.fleet.faults import host_loss, rolling_restart
from bench.fleet.figures import Figures
from bench.fleet.fleet import ROOT, Fleet, open_fleet
from bench.fleet.install import unavailable_reason


async def scenarios(fleet: Fleet, args: argparse.Namespace) -> list[Figures]:
    done = [await coherence(fleet, trials=args.trials)]
    done.append(await rolling_restart(fleet, connections=args.connections))
    done.append(await host_loss(fleet, connections=args.connections))
    if args.capacity_s > 0:
        await asyncio.to_thread(fleet.apps["app2"].start)  # the lost host comes back for the measurement
        done.append(await capacity(fleet, connections=args.connections * 2, seconds=args.capacity_s))
    return done


def run(args: argparse.Namespace) -> list[str]:
    """Build the fleet, run the scenarios; the failed figures (empty: all held)."""
    with open_fleet(args.data_dir, report_deadline_s=args.report_deadline_s) as fleet:
        figures = asyncio.run(scenarios(fleet, args))
    return [failure for f in figures for failure in f.failures]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make fleet", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data" / "fleet")
    parser.add_argument("--trials", type=int, default=100, help="trade-then-read trials across hosts")
    parser.add_argument("--connections", type=int, default=16, help="load clients during the scenarios")
    parser.add_argument("--capacity-s", type=float, default=15.0, help="seconds per capacity measurement (0: none)")
    parser.add_argument("--report-deadline-s", type=float, default=20.0, help="REPORT_DEADLINE_S on every host")
    return parser.parse_args(argv)


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through the clean-up, as Ctrl-C does


def main(argv: list[str]) -> int:
    args = parse(argv)
    if (reason := unavailable_reason()) is not None:
        print(f"fleet rehearsal skipped: {reason}")
        return 0
    signal.signal(signal.SIGTERM, _interrupted)
    started = time.monotonic()
    failures = run(args)
    print(f"\nfleet rehearsal finished in {time.monotonic() - started:.0f} s", flush=True)
    for failure in failures:
        print(f"FAILED {failure}")
    print("all figures held" if not failures else f"{len(failures)} figure(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
