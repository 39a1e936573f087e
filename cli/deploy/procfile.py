"""The Procfile read as data, so that every platform runs exactly the commands `make run` runs."""

import re
from pathlib import Path

# The process types a deployment runs; `simulator` is development-only and never deployed.
DEPLOYED = ("release", "web", "worker", "clock")
# Exactly one instance each, never autoscaled: the clock sends the market day's jobs (cli/clock.py), and
# a second one would only send them again.
SINGLETONS = ("clock",)
_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>\S.*)$")
# The drain deadlines the Procfile gives Granian (seconds) and Dramatiq (milliseconds).
_DRAIN_S = re.compile(r"--workers-kill-timeout[ =](?P<value>\d+)")
_DRAIN_MS = re.compile(r"--worker-shutdown-timeout[ =](?P<value>\d+)")
# How long a process type without a drain flag may take to stop on SIGTERM (seconds). The clock drains
# nothing: it cancels at once (a day whose send is cut off is still owed, and its next start sends the days
# owed; the workers run each job once per day). What bounds its exit is a broker send already in flight in its
# thread: a connect and one command, each cut off by BROKER_TIMEOUT_S (5 s, config/wiring/reports.py), with
# valkey-py retrying neither; closing its pool (psycopg_pool's 5-s close timeout) runs meanwhile.
_STOP_S = {"clock": 10}


class ProcfileError(ValueError):
    """The Procfile is malformed or lacks a process type a deployment needs."""


def parse_procfile(text: str) -> dict[str, str]:
    """`name: command` lines to a dict; blank lines and `#` comments are skipped."""
    processes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ProcfileError(f"Procfile line {number} is not `name: command`: {line!r}")
        if match["name"] in processes:
            raise ProcfileError(f"Procfile line {number} repeats the process type {match['name']!r}")
        processes[match["name"]] = match["command"].strip()
    return processes


def deployed_commands(text: str) -> dict[str, str]:
    """The commands of the DEPLOYED process types of a Procfile; a missing one is an error."""
    processes = parse_procfile(text)
    missing = [name for name in DEPLOYED if name not in processes]
    if missing:
        raise ProcfileError("the Procfile has " + ", ".join(f"no {name} process type" for name in missing))
    return {name: processes[name] for name in DEPLOYED}


def read_procfile(path: Path) -> dict[str, str]:
    """`deployed_commands` of the Procfile at `path`."""
    try:
        return deployed_commands(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ProcfileError(f"cannot read {path}: {e.strerror}") from None


def shell_argv(command: str) -> list[str]:
    """The argv a container runs: a shell expands `${PORT:-8000}` and `exec` hands it the signals."""
    return ["sh", "-c", f"exec {command}"]


def drain_seconds(command: str) -> int | None:
    """How long the command drains on SIGTERM, from its own flags (None when it does not say)."""
    if (match := _DRAIN_S.search(command)) is not None:
        return int(match["value"])
    if (match := _DRAIN_MS.search(command)) is not None:
        return -(-int(match["value"]) // 1000)
    return None


def stop_seconds(process: str, command: str) -> int | None:
    """How long a process type takes to stop on SIGTERM: its command's drain flags, else what it is known to
    take (None: the platform's default applies)."""
    drain = drain_seconds(command)
    return drain if drain is not None else _STOP_S.get(process)
