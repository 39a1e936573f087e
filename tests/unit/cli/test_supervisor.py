"""The Procfile supervisor on tiny real `sh` processes: restarts with backoff, drains, kills, prefixes output."""

import contextlib
import io
import os
import re
import threading
import time
from collections.abc import Callable, Mapping

import psutil
import pytest

from cli.supervisor import Backoff, Output, Supervisor, describe_exit, shell_command

FAST = Backoff(first_s=0.2, cap_s=0.8, stable_s=60)
STEADY = 'echo "up $$"; while :; do sleep 0.05; done'
IGNORES_TERM = "trap '' TERM; echo ready; while :; do sleep 0.05; done"
WAIT_S = 30  # for what the processes print: far above their timings, even on a loaded machine


def run(
    procs: Mapping[str, str],
    *,
    until: Callable[[str], bool],
    kill_after: float | None = None,
    env: Mapping[str, str] | None = None,
    backoff: Backoff = FAST,
    kill_wait_s: float = 15.0,
) -> tuple[str, float, set[int]]:
    """Run `procs` until the output satisfies `until`, then stop (and `kill` `kill_after` s later).

    Returns the output, the seconds from stop() to the end of run(), and every pid seen in the groups.
    """
    stream = io.StringIO()
    sup = Supervisor(procs, env or {"PATH": os.environ["PATH"]}, output=Output(stream), backoff=backoff)
    sup.kill_wait_s, sup.poll_s = kill_wait_s, 0.02
    seen: set[int] = set()
    stopped_at: list[float] = []

    def drive() -> None:
        deadline = time.monotonic() + WAIT_S
        while not until(stream.getvalue()) and time.monotonic() < deadline:
            seen.update(pid for leader in sup.pids().values() for pid in _group(leader))
            time.sleep(0.02)
        stopped_at.append(time.monotonic())
        sup.stop()
        if kill_after is not None:
            time.sleep(kill_after)
            sup.kill()

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    sup.run()  # on this (main) thread, as devrun runs it
    driver.join()
    out = stream.getvalue()
    assert until(out), out
    return out, time.monotonic() - stopped_at[0], seen


def _group(leader: int) -> list[int]:
    with_leader = [leader]
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(proc.pid) == leader:
                with_leader.append(proc.pid)
    return with_leader


def _alive(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
    return alive


def _has(*texts: str, count: int = 1) -> Callable[[str], bool]:
    return lambda out: all(out.count(text) >= count for text in texts)


def test_a_crashing_process_is_restarted_with_backoff_and_the_others_carry_on() -> None:
    procs = {"steady": STEADY, "crasher": "echo started; sleep 0.1; exit 3"}
    out, _, seen = run(procs, until=_has("--> crasher.1 restarted (pid ", count=4))
    pattern = r"crasher\.1 exited with exit code 3 after \d+ s; restarting in ([\d.]+) s"
    assert [float(d) for d in re.findall(pattern, out)][:4] == [0.2, 0.4, 0.8, 0.8]  # doubling, capped
    assert len(re.findall(r"^steady\.1 +\| up \d+$", out, re.M)) == 1  # started once, never touched
    assert "steady.1 exited" not in out
    assert not _alive(seen)


def test_the_backoff_starts_again_once_a_process_has_stayed_up() -> None:
    reset = Backoff(first_s=0.2, cap_s=5, stable_s=0.25)  # the crasher always lives 0.3 s, so it counts as stable
    out, _, _ = run({"crasher": "sleep 0.3; exit 1"}, until=_has("restarting in", count=3), backoff=reset)
    assert set(re.findall(r"restarting in ([\d.]+) s", out)) == {"0.2"}


def test_stop_lets_each_process_drain_then_reports_it_stopped() -> None:
    drains = "trap 'echo draining; sleep 0.4; echo drained; exit 0' TERM; echo ready; while :; do sleep 0.05; done"
    out, took, seen = run({"web": drains, "steady": STEADY}, until=_has("web.1  | ready", "steady.1 | up"))
    assert "--> stopping web.1, steady.1 (in-flight work drains, up to 15 s) ..." in out
    assert out.index("web.1  | drained") < out.index("--> web.1 stopped")
    assert "--> steady.1 stopped" in out
    assert "restart" not in out
    assert 0.4 <= took < 15
    assert not _alive(seen)


def test_a_process_that_does_not_drain_in_time_is_killed() -> None:
    out, took, seen = run({"stubborn": IGNORES_TERM}, until=_has("stubborn.1 | ready"), kill_wait_s=0.6)
    assert "--> stubborn.1 still running after 0.6 s: killing" in out
    assert "--> stubborn.1 stopped" in out
    assert 0.6 <= took < 10
    assert not _alive(seen)


def test_kill_does_not_wait_for_the_drain() -> None:
    out, took, seen = run({"stubborn": IGNORES_TERM}, until=_has("stubborn.1 | ready"), kill_after=0.1, kill_wait_s=30)
    assert took < 10  # far below the 30 s drain
    assert "--> stubborn.1 stopped" in out
    assert not _alive(seen)


def test_lines_are_run_through_sh_and_prefixed_with_the_process_name() -> None:
    procs = {"echoer": "echo port=${PORT:-8000} host=${HOST:-0.0.0.0}; sleep 5"}
    env = {"PATH": os.environ["PATH"], "PORT": "1234"}
    out, _, _ = run(procs, until=_has("echoer.1 | port="), env=env)
    assert "echoer.1 | port=1234 host=0.0.0.0\n" in out


def test_prefixes_are_coloured_only_when_asked() -> None:
    plain, coloured = io.StringIO(), io.StringIO()
    Output(plain, colour=False).process_line("web.1", "36", "hello")
    Output(coloured, colour=True).process_line("web.1", "36", "hello")
    assert plain.getvalue() == "web.1  | hello\n"
    assert coloured.getvalue() == "\033[36mweb.1  | \033[0mhello\n"
    assert Output(io.StringIO()).colour is False  # not a terminal


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("granian --port ${PORT:-8000} app", "exec granian --port ${PORT:-8000} app"),
        ("python -m cli simulate", "exec python -m cli simulate"),
        ("a && b", "a && b"),
        ("a; b", "a; b"),
        ("a | b", "a | b"),
        ("a > log", "a > log"),
        ("FOO=1 a", "FOO=1 a"),
        ("echo 'a; b'", "exec echo 'a; b'"),
        ("echo 'unbalanced", "echo 'unbalanced"),
    ],
)
def test_a_single_plain_command_is_execd_as_a_platform_shell_does(line: str, command: str) -> None:
    assert shell_command(line) == ["sh", "-c", command]


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (-9, "signal SIGKILL"),
        (1, "exit code 1"),
        (0, "exit code 0"),
        (143, "exit code 143 (SIGTERM)"),
        (255, "exit code 255"),
    ],
)
def test_exits_are_described_by_code_or_signal(code: int, text: str) -> None:
    assert describe_exit(code) == text
