"""Run a Procfile's processes the way a platform runs dynos: a crashed one is restarted, the others carry on.

Each process runs as `sh -c LINE` (so `${VAR:-default}` expands as on the platform) in a process
group of its own, with its output prefixed `web.1 | ` (coloured on a terminal). A process that
exits while the supervisor runs, whatever its exit code, loses what is left of its group and is
started again after a backoff: 1 s, doubling to 30 s, back to 1 s once it has stayed up a minute.
`stop()` sends SIGTERM to every group and gives them `kill_wait_s` to drain before SIGKILL;
`kill()` sends SIGKILL at once. Both only record the request, so a signal handler may call them;
`run()` acts on it from its loop on the main thread, which also starts every process (the death
signal armed in a child fires when the thread that forked it ends).
"""

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TextIO

import psutil

from cli.embedded.processes import death_signal_on_exit

_COLOURS = ("36", "33", "32", "35", "34", "31")  # cyan, yellow, green, magenta, blue, red, as honcho cycles
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SHELL_SIGNAL_BASE = 128  # a shell reports a child killed by signal N as exit status 128 + N


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float = 1.0
    cap_s: float = 30.0
    stable_s: float = 60.0  # up this long, a process's next crash restarts it after `first_s` again


class Output:
    """Whole lines to one stream under a lock, so lines from several processes never mix."""

    def __init__(self, stream: TextIO | None = None, *, colour: bool | None = None, width: int = 6) -> None:
        self.stream = stream or sys.stdout
        self.colour = self.stream.isatty() if colour is None else colour
        self.width = width
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):  # a closed terminal must not stop the runner
            self.stream.write(text + "\n")
            self.stream.flush()

    def event(self, text: str) -> None:
        """One line about the runner's own doings, in the style of its start-up steps."""
        self.write(f"--> {text}")

    def process_line(self, name: str, colour: str, text: str) -> None:
        prefix = f"{name:<{self.width}} | "
        self.write(f"\033[{colour}m{prefix}\033[0m{text}" if self.colour else prefix + text)


def shell_command(line: str) -> list[str]:
    """`sh -c LINE`; a single plain command is exec'd, as a platform's `bash -c` does.

    Then the command itself is the group leader: it gets the death signal, one SIGTERM rather than
    one more from a shell in between, and its own exit status. A line with operators, redirections
    or leading assignments keeps its shell.
    """
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: let sh say what is wrong
        return ["sh", "-c", line]
    plain = tokens and not _ASSIGNMENT.match(tokens[0]) and not any(set(t) <= set("();<>|&") for t in tokens)
    return ["sh", "-c", f"exec {line}" if plain else line]


def describe_exit(code: int) -> str:
    """`signal SIGKILL`, `exit code 1`, or `exit code 137 (SIGKILL)` for a shell reporting a signal."""
    with contextlib.suppress(ValueError):
        if code < 0:
            return f"signal {signal.Signals(-code).name}"
        if code > _SHELL_SIGNAL_BASE:
            return f"exit code {code} ({signal.Signals(code - _SHELL_SIGNAL_BASE).name})"
    return f"exit code {code}"


@dataclass(slots=True)
class _Process:
    name: str
    command: str
    colour: str
    popen: "subprocess.Popen[bytes] | None" = None
    reader: threading.Thread | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    delay_s: float = 0.0


class Supervisor:
    def __init__(
        self,
        processes: Mapping[str, str],
        env: Mapping[str, str],
        *,
        output: Output | None = None,
        backoff: Backoff | None = None,
        kill_wait_s: float = 30.0,
        poll_s: float = 0.1,
    ) -> None:
        self.backoff = backoff or Backoff()
        self.env = dict(env)
        self.kill_wait_s = kill_wait_s
        self.poll_s = poll_s
        self._procs = [
            _Process(f"{name}.1", command, _COLOURS[i % len(_COLOURS)], delay_s=self.backoff.first_s)
            for i, (name, command) in enumerate(processes.items())
        ]
        width = max([6, *(len(p.name) for p in self._procs)])
        self.output = output or Output(width=width)
        self._stop_requested = False
        self._kill_requested = False
        self._stop_deadline: float | None = None
        self._killed_at: float | None = None

    @property
    def stopping(self) -> bool:
        return self._stop_requested or self._kill_requested

    def stop(self) -> None:
        """Ask every process to drain and exit (SIGTERM to its group), then SIGKILL after `kill_wait_s`."""
        self._stop_requested = True

    def kill(self) -> None:
        """SIGKILL every process group now."""
        self._kill_requested = True

    def pids(self) -> dict[str, int]:
        """The running processes' leaders by name (`worker.1`: pid), the process group ids too."""
        return {p.name: p.popen.pid for p in self._procs if p.popen is not None and p.popen.poll() is None}

    def run(self) -> None:
        """Start every process, restart those that exit, and return once stopped and all are gone."""
        for proc in self._procs:
            if not self.stopping:
                self._start(proc)
        while not self._finished(time.monotonic()):
            time.sleep(self.poll_s)
        for proc in self._procs:
            if proc.reader is not None:
                proc.reader.join(timeout=2)

    def _finished(self, now: float) -> bool:
        if self._kill_requested and self._killed_at is None:
            self._signal_all(signal.SIGKILL)
            self._killed_at = now
        if self.stopping and self._stop_deadline is None:
            self._begin_stop(now)
        if not self.stopping:
            for proc in self._procs:
                self._watch(proc, now)
            return False
        gone = [self._gone(proc) for proc in self._procs]  # each one, so every stopped process is reported now
        if all(gone):
            return True
        if self._killed_at is None and self._stop_deadline is not None and now >= self._stop_deadline:
            alive = ", ".join(p.name for p in self._procs if not self._gone(p))
            self.output.event(f"{alive} still running after {self.kill_wait_s:g} s: killing")
            self.kill()
        return self._killed_at is not None and now > self._killed_at + 10  # past this, the caller sweeps

    def _begin_stop(self, now: float) -> None:
        self._stop_deadline = now + self.kill_wait_s
        for proc in self._procs:
            proc.restart_at = None
        if self._killed_at is None:
            names = ", ".join(p.name for p in self._procs if p.popen is not None)
            self.output.event(f"stopping {names} (in-flight work drains, up to {self.kill_wait_s:g} s) ...")
            self._signal_all(signal.SIGTERM)

    def _start(self, proc: _Process) -> None:
        restart = proc.started_at > 0
        proc.popen = subprocess.Popen(
            shell_command(proc.command),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=death_signal_on_exit(signal.SIGTERM),  # noqa: PLW1509 - a single prctl call
        )
        proc.started_at, proc.restart_at = time.monotonic(), None
        stdout = proc.popen.stdout
        assert stdout is not None  # stdout=PIPE
        proc.reader = threading.Thread(target=self._pump, args=(proc.name, proc.colour, stdout), daemon=True)
        proc.reader.start()
        if restart:
            self.output.event(f"{proc.name} restarted (pid {proc.popen.pid})")

    def _watch(self, proc: _Process, now: float) -> None:
        if proc.popen is None:
            if proc.restart_at is not None and now >= proc.restart_at:
                self._start(proc)
            return
        code = proc.popen.poll()
        if code is None:
            return
        _end_group(proc.popen.pid, signal.SIGKILL)  # what is left of a crashed dyno goes with it
        proc.popen = None
        uptime = now - proc.started_at
        if uptime >= self.backoff.stable_s:
            proc.delay_s = self.backoff.first_s
        proc.restart_at = now + proc.delay_s
        self.output.event(
            f"{proc.name} exited with {describe_exit(code)} after {uptime:.0f} s; restarting in {proc.delay_s:g} s"
        )
        proc.delay_s = min(proc.delay_s * 2, self.backoff.cap_s)

    def _gone(self, proc: _Process) -> bool:
        if proc.popen is None:
            return True
        if proc.popen.poll() is None or _group_members(proc.popen.pid):
            return False
        self.output.event(f"{proc.name} stopped")
        proc.popen = None
        return True

    def _signal_all(self, sig: int) -> None:
        for proc in self._procs:
            if proc.popen is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.popen.pid, sig)

    def _pump(self, name: str, colour: str, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                self.output.process_line(name, colour, raw.decode(errors="replace").rstrip("\r\n"))


def _group_members(pgid: int) -> list[psutil.Process]:
    """Live members of process group `pgid` among our descendants; members that ended are reaped.

    Its leader is left out (its Popen reaps it). Orphans of the group are our children (we are a
    subreaper or their grandparent), so waiting for them here reaps their zombies.
    """
    members = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if proc.pid != pgid and os.getpgid(proc.pid) == pgid:
                members.append(proc)
    _, alive = psutil.wait_procs(members, timeout=0)
    return alive


def _end_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    psutil.wait_procs(_group_members(pgid), timeout=5)
