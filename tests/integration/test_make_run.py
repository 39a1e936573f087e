"""`make run` as a developer meets it: the banner's tokens work, a crashed worker comes back, Ctrl-C ends it all.

One `python -m cli dev` (what `make run` runs) for the module, on a free port, with its own DATA_DIR
and no URLs, so it starts its own embedded servers and leaves a developer's `.data/run` alone.
The Ctrl-C test stops it, so it comes last.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from cli.embedded import free_port
from cli.embedded.processes import spawn

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
# Short, explicit report deadlines: a report lost with a worker comes back in seconds.
REPORTS = {
    "REPORT_DEADLINE_S": "15",
    "REPORT_TIME_LIMIT_S": "10",
    "REPORT_SWEEP_INTERVAL_S": "1",
    "BROKER_HEARTBEAT_TIMEOUT_MS": "3000",
}
START_TIMEOUT_S = 300  # embedded servers, migrations and the demo data on a busy two-core machine
CLEARED = (
    "DATABASE_URL",
    "VALKEY_URL",
    "SMTP_URL",
    "JWT_SECRET",
    "METRICS_DIR",
    "METRICS_BIND",
    "MAKEFLAGS",
    "MAKELEVEL",
    "MFLAGS",
)


def shell_env(data_dir: Path, port: int) -> dict[str, str]:
    """A developer's shell: no URLs (embedded servers), no key (generated under DATA_DIR), no parent make."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return {**env, "DATA_DIR": str(data_dir), "PORT": str(port), "ENVIRONMENT": "development"}


@dataclass
class MakeRun:
    proc: "subprocess.Popen[bytes]"
    port: int
    data_dir: Path
    log_path: Path
    user_token: str = ""
    operator_token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def env(self) -> dict[str, str]:
        return shell_env(self.data_dir, self.port)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (match := re.search(pattern, self.log(), re.M)) is not None:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} in the output of make run; its tail:\n{self.log()[-4000:]}")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    data_dir, port = tmp_path_factory.mktemp("make-run"), free_port()
    env = {**shell_env(data_dir, port), **REPORTS, "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", "WORKER_THREADS": "2"}
    log_path = data_dir / "make-run.log"
    # Its own process group, as a terminal's foreground job; SIGTERM if this test session dies first.
    proc = spawn([sys.executable, "-m", "cli", "dev"], log_path, cwd=ROOT, death_signal=signal.SIGTERM, env=env)
    run = MakeRun(proc, port, data_dir, log_path)
    try:
        run.wait_for(r"^  Ctrl-C stops everything\.$", START_TIMEOUT_S)
        run.user_token = run.wait_for(r'Bearer ([\w.-]+)" \S+/api/user/1/portfolio$', 1).group(1)
        run.operator_token = run.wait_for(r'^  Operator .*Bearer ([\w.-]+)"', 1).group(1)
        yield run
    finally:
        _stop(run)


def _stop(run: MakeRun) -> None:
    if run.proc.poll() is not None:
        return
    left = run.descendants()
    os.killpg(run.proc.pid, signal.SIGINT)
    try:
        run.proc.wait(90)
    except subprocess.TimeoutExpired:
        for proc in [run.proc, *left]:
            proc.kill()
        run.proc.wait(10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_banner_names_the_api_and_its_tokens_work(make_run: MakeRun) -> None:
    text = make_run.log()
    assert f"  Folio API   {make_run.url}\n" in text
    runner_lines = [line for line in text.splitlines() if not re.match(r"\S+\.\d+ +\| ", line)]  # not the apps'
    assert "seed" not in re.sub(r"[\w-]+\.[\w-]+\.[\w-]+", "<token>", "\n".join(runner_lines)).lower()
    portfolio = httpx.get(f"{make_run.url}/api/user/1/portfolio", headers=bearer(make_run.user_token), timeout=10)
    assert portfolio.status_code == 200, portfolio.text
    assert portfolio.json()["user_id"] == 1
    other = httpx.get(f"{make_run.url}/api/user/2/portfolio", headers=bearer(make_run.user_token), timeout=10)
    assert other.status_code == 403  # a user's token, not an operator's
    ops = httpx.get(f"{make_run.url}/api/ops/scaling", headers=bearer(make_run.operator_token), timeout=10)
    assert ops.status_code == 200, ops.text
    console = re.search(r"^  Console     (\S+)   sign in with the operator token: ([\w.-]+)$", text, re.MULTILINE)
    assert console is not None, text
    assert console.group(1) == f"{make_run.url}/console"
    assert httpx.get(console.group(1), timeout=10).status_code == 200
    signed_in = httpx.post(f"{console.group(1)}/session", json={"token": console.group(2)}, timeout=10)
    assert signed_in.status_code == 201, signed_in.text


def make_token(make_run: MakeRun, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = ["make", "--no-print-directory", "token", *args]
    return subprocess.run(cmd, check=False, cwd=ROOT, env=make_run.env(), capture_output=True, text=True, timeout=300)


def test_make_token_prints_tokens_signed_with_the_key_make_run_uses(make_run: MakeRun) -> None:
    user, operator = make_token(make_run, "USER=1"), make_token(make_run, "OPERATOR=1")
    for done in (user, operator):
        assert done.returncode == 0, done.stderr
        assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+\n", done.stdout)  # the token alone: TOKEN=$(make token ...)
    user_token, operator_token = user.stdout.strip(), operator.stdout.strip()
    url = make_run.url
    assert httpx.get(f"{url}/api/user/1/portfolio", headers=bearer(user_token), timeout=10).status_code == 200
    assert httpx.get(f"{url}/api/ops/scaling", headers=bearer(user_token), timeout=10).status_code == 403
    assert httpx.get(f"{url}/api/ops/scaling", headers=bearer(operator_token), timeout=10).status_code == 200

    usage = make_token(make_run)
    assert usage.returncode != 0
    assert "usage: make token USER=<id>" in usage.stderr


class Prober:
    """GETs a route every 0.25 s (well inside a user's rate limit) and keeps each status (0 for no answer)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        with httpx.Client(headers=headers, timeout=5) as client:
            while not self._stop.wait(0.25):
                try:
                    self.statuses.append(client.get(url).status_code)
                except httpx.HTTPError:
                    self.statuses.append(0)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(10)
        return self.statuses


def worker_leader(make_run: MakeRun) -> psutil.Process:
    """The worker's main process: the leader of its own process group, among make run's children."""
    for proc in psutil.Process(make_run.proc.pid).children():
        if "dramatiq" in " ".join(proc.cmdline()) and os.getpgid(proc.pid) == proc.pid:
            return proc
    raise AssertionError("no worker process under make run")


def test_a_killed_worker_is_restarted_and_a_report_requested_before_still_succeeds(make_run: MakeRun) -> None:
    make_run.wait_for(r"Worker process is ready for action", 60)
    user = bearer(make_run.user_token)
    worker = worker_leader(make_run)
    prober = Prober(f"{make_run.url}/api/user/1/portfolio", user)
    # Frozen first, so the old worker cannot have finished the report before it is killed.
    os.killpg(worker.pid, signal.SIGSTOP)
    try:
        requested = httpx.post(f"{make_run.url}/api/generate-report?user_id=1", headers=user, timeout=10)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
    assert requested.status_code == 202, requested.text
    task_id = requested.json()["task_id"]

    restarted = make_run.wait_for(r"^--> worker\.1 restarted \(pid (\d+)\)$", 30)
    assert int(restarted.group(1)) != worker.pid
    assert re.search(
        r"^--> worker\.1 exited with signal SIGKILL after \d+ s; restarting in \d+ s$", make_run.log(), re.M
    )
    deadline = time.monotonic() + 2 * float(REPORTS["REPORT_DEADLINE_S"]) + 30
    status = ""
    while time.monotonic() < deadline and status not in {"succeeded", "failed"}:
        time.sleep(0.5)
        status = httpx.get(f"{make_run.url}/api/reports/{task_id}", headers=user, timeout=10).json()["status"]
    statuses = prober.stop()
    assert status == "succeeded", make_run.log()[-4000:]
    assert len(statuses) >= 8
    assert set(statuses) == {200}  # the API answered throughout
    for name in ("web.1", "clock.1", "simulator.1"):
        assert f"--> {name} exited" not in make_run.log()


def test_ctrl_c_stops_everything_and_leaves_nothing_behind(make_run: MakeRun) -> None:
    before = make_run.descendants()
    assert len(before) >= 6  # postgres, valkey, web, worker, clock, simulator and their children
    os.killpg(make_run.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to the foreground job
    code = make_run.proc.wait(90)

    assert code == 128 + signal.SIGINT
    text = make_run.log()
    assert "--> stopping web.1, worker.1, clock.1, simulator.1" in text
    for name in ("web.1", "worker.1", "clock.1", "simulator.1"):
        assert f"--> {name} stopped" in text
    assert text.index("--> web.1 stopped") < text.index("Stopping embedded servers")
    assert [p for p in before if _alive(p)] == []
    assert _involving(make_run) == []


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _involving(make_run: MakeRun) -> list[str]:
    """Any process on the machine whose command line or working folder names make run's data dir or port."""
    data_dir, port = str(make_run.data_dir), str(make_run.port)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        cwd = proc.info["cwd"] or ""
        if data_dir in cmdline or cwd.startswith(data_dir) or re.search(rf"(--port|:){port}\b", cmdline):
            found.append(f"{proc.info['pid']} {cmdline}")
    return found
