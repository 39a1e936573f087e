"""`python -m cli.web SERVER-COMMAND...`: the Procfile's web line, taken out of rotation before it stops.

Behind a load balancer that checks `/health/ready`, a stopping instance should first answer 503 there, so the
balancer takes it out, and only then close its listener. With `WEB_DRAIN_DELAY_S` above 0 this process runs the
server (Granian) as its child, in a session of its own so that a SIGTERM sent to the whole process group reaches
only this process. On SIGTERM or SIGINT it creates the drain file the server's readiness checks
(`WEB_DRAIN_FILE`, which it sets for the server), keeps the server serving for the delay, then passes the signal
on and exits with the server's status; the server then drains as always. With 0 (the default: a platform whose
router stops routing at SIGTERM needs no delay) it becomes the server itself (exec), at no cost.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from cli.embedded.processes import death_signal_on_exit
from config.settings import load_settings

USAGE = "usage: python -m cli.web SERVER-COMMAND [ARGS...]"


def main(argv: list[str]) -> int:
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    delay_s = load_settings(os.environ).web_drain_delay_s
    if delay_s <= 0:
        os.execvp(argv[0], argv)  # noqa: S606 - the Procfile's own command line
    with tempfile.TemporaryDirectory(prefix="folio-web-") as folder:
        drain_file = Path(folder) / "draining"
        return serve(argv, drain_file, delay_s)


def serve(argv: list[str], drain_file: Path, delay_s: float) -> int:
    """Run `argv` until it exits; a stop signal first creates `drain_file`, then waits `delay_s`, then passes on."""
    stopping: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if not stopping:
            stopping.append(signum)
            drain_file.touch()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    env = {**os.environ, "WEB_DRAIN_FILE": str(drain_file)}
    server = subprocess.Popen(argv, env=env, start_new_session=True, preexec_fn=death_signal_on_exit(signal.SIGKILL))  # noqa: PLW1509
    while server.poll() is None and not stopping:
        time.sleep(0.1)
    if stopping and server.poll() is None:
        print(f"web: out of rotation (readiness 503) for {delay_s:g} s, then stopping", file=sys.stderr, flush=True)
        deadline = time.monotonic() + delay_s
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if server.poll() is None:
            server.send_signal(stopping[0])
    return server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
