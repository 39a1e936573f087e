"""`make fleet`: a multi-host rehearsal on one machine (namespaces `db`, `app1`, `app2`, `lb`), then its figures.

Needs root (network namespaces) and HAProxy (Debian's package, installed here when root). Elsewhere it
says why and exits 0, having done nothing. It stops by itself; Ctrl-C or SIGTERM clean up as a failure does.
"""

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from bench.fleet.hosts import ROOT
from bench.fleet.install import unavailable_reason
from bench.fleet.rehearsal import Options, rehearse


def parse(argv: list[str]) -> Options:
    defaults = Options(ROOT / ".data" / "fleet")
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=defaults.data_dir)
    parser.add_argument("--trials", type=int, default=defaults.trials, help="trade-then-read trials across hosts")
    parser.add_argument("--connections", type=int, default=defaults.connections, help="load clients")
    parser.add_argument("--capacity-s", type=int, default=defaults.capacity_s, help="seconds per capacity figure")
    parser.add_argument("--report-deadline-s", type=float, default=defaults.report_deadline_s)
    parser.add_argument("--pgbouncer", action="store_true", help="the processes reach PostgreSQL through PgBouncer")
    args = parser.parse_args(argv)
    return Options(
        args.data_dir, args.trials, args.connections, args.capacity_s, args.report_deadline_s, pgbouncer=args.pgbouncer
    )


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through the clean-up, as Ctrl-C does


def main(argv: list[str]) -> int:
    options = parse(argv)
    if (reason := unavailable_reason()) is not None:
        print(f"fleet rehearsal skipped: {reason}")
        return 0
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)  # also when started in the background, where SIGINT is ignored
    started = time.monotonic()
    try:
        failures = rehearse(options)
    except KeyboardInterrupt:
        print("\nfleet rehearsal interrupted: every process it started is stopped, every namespace deleted")
        return 130
    print(f"\nfleet rehearsal finished in {time.monotonic() - started:.0f} s", flush=True)
    for failure in failures:
        print(f"FAILED {failure}")
    print("all figures held" if not failures else f"{len(failures)} figure(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
