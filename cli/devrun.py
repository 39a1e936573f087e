"""`make run`: embedded servers for unset URLs, the Procfile's release step, demo data, then its processes.

The processes run under `cli.supervisor`, as a platform runs them: one that crashes is restarted
with a backoff and the others carry on. Shutdown order on Ctrl-C or SIGTERM: the processes first
(they drain while the servers are still up), then the embedded servers. A second signal kills the
processes outright. This process is a child subreaper, so nothing it started outlives it as an orphan.
"""

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import psutil

from cli.embedded import EmbeddedServerError, EmbeddedServers, start_embedded
from cli.supervisor import Output, Supervisor
from config.jwt_keys import is_hmac, load_jwt_keys
from config.settings import Settings
from gateway.auth import mint_token

_PR_SET_CHILD_SUBREAPER = 36
_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
_DRAIN_S = 30.0  # Granian and Dramatiq drain for 25 s; the platform kills at 30 s, and so do we


class _InterruptedError(Exception):
    """A stop signal arrived before the app processes started."""


class _StepFailedError(Exception):
    def __init__(self, name: str, code: int) -> None:
        super().__init__(f"{name} failed with exit code {code}")
        self.code = code


def read_procfile(path: Path) -> dict[str, str]:
    """Process types in file order: {"release": "...", "web": "...", ...}."""
    procs: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if (match := _PROCFILE_LINE.match(line.strip())) is not None:
            procs[match.group(1)] = match.group(2)
    return procs


class DevRunner:
    def __init__(self, settings: Settings, procfile: Path) -> None:
        self.settings = settings
        self.procfile = procfile
        self.env = dict(os.environ)
        self.supervisor: Supervisor | None = None
        self.servers: EmbeddedServers | None = None
        self.signals = 0
        self.first_signal = 0
        self.stopping = False

    def run(self) -> int:
        _become_subreaper()
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            return self._run()
        except EmbeddedServerError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        except _StepFailedError as e:
            print(f"error: {e}", file=sys.stderr)
            return e.code or 1
        except _InterruptedError:
            return 128 + (self.first_signal or signal.SIGINT)
        finally:
            self.stopping = True
            self._shutdown()

    def _run(self) -> int:
        procs = read_procfile(self.procfile)
        bin_dir = str(Path(sys.executable).parent)
        self.env["PATH"] = os.pathsep.join([bin_dir, self.env.get("PATH", "")])
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        # Development only: webhooks may go to receivers on this machine (production refuses the setting).
        if self.settings.environment != "production":
            self.env.setdefault("WEBHOOK_ALLOW_PRIVATE", "true")
        self.env["PORT"] = self.env.get("PORT") or str(self.settings.port)
        port = int(self.env["PORT"])
        _require_free_port(port)
        data_dir = Path(self.settings.data_dir) / "run"
        print(f"Starting embedded servers for unset URLs under {data_dir}/ ...", flush=True)
        self.servers = start_embedded(self.env, data_dir)
        self.env.update(self.servers.env())
        if "release" in procs:
            self._step("release", ["sh", "-c", procs["release"]])
        self._step("demo data", [sys.executable, "-m", "cli", "demo-data"])
        tokens = self._share_jwt_key()
        apps = {name: command for name, command in procs.items() if name != "release"}
        supervisor = Supervisor(apps, self.env, kill_wait_s=_DRAIN_S)
        self.supervisor = supervisor
        oidc = self.settings.oidc_issuer if self.settings.oidc_client_id else ""
        banner = _banner(port, self.servers, tokens, oidc)
        announce = (port, banner, supervisor.output, lambda: supervisor.stopping)
        threading.Thread(target=_announce_when_up, args=announce, daemon=True).start()
        supervisor.run()
        return 128 + (self.first_signal or signal.SIGTERM)

    def _share_jwt_key(self) -> tuple[str, str]:
        """Every process verifies with one key: a generated development secret is exported to them all."""
        keys = load_jwt_keys(self.settings)  # generates DATA_DIR/jwt-secret when no key is configured
        if is_hmac(keys.algorithm) and not self.settings.jwt_secret:
            self.env["JWT_SECRET"] = keys.verifying
        user = mint_token(self.settings, subject="1", scope="user")
        return user, mint_token(self.settings, subject="operator", scope="operator")

    def _step(self, name: str, cmd: list[str]) -> None:
        print(f"--> {name}: {cmd[-1] if cmd[0] == 'sh' else 'python ' + ' '.join(cmd[1:])}", flush=True)
        code = subprocess.run(cmd, env=self.env, check=False).returncode
        if self.signals:
            raise _InterruptedError
        if code != 0:
            raise _StepFailedError(name, code)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        self.first_signal = self.first_signal or signum
        if self.stopping:
            print("stopping the embedded servers, please wait ...", file=sys.stderr, flush=True)
            return
        if self.supervisor is None:
            raise _InterruptedError
        if self.signals == 1:
            self.supervisor.stop()
        else:
            print("second signal: killing the app processes", file=sys.stderr, flush=True)
            self.supervisor.kill()

    def _server_pids(self) -> set[int]:
        return self.servers.pids() if self.servers is not None else set()

    def _shutdown(self) -> None:
        _kill_descendants(exclude=self._server_pids(), timeout=10)  # what a killed process left behind
        if self.servers is not None:
            print("Stopping embedded servers ...", flush=True)
            self.servers.close()
        _kill_descendants(exclude=set(), timeout=5)


def _become_subreaper() -> None:
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _kill_descendants(exclude: set[int], timeout: float) -> None:
    """SIGTERM every descendant outside the `exclude` subtrees, SIGKILL after `timeout`, reap."""
    procs: list[psutil.Process] = []
    for child in psutil.Process().children():
        if child.pid not in exclude:
            with contextlib.suppress(psutil.Error):
                procs += [child, *child.children(recursive=True)]
    sig = signal.SIGTERM if timeout > 0 else signal.SIGKILL
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
    _, alive = psutil.wait_procs(procs, timeout=timeout or 1)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=2)
    for child in psutil.Process().children():  # orphans re-parented to us while we waited
        if child.pid not in exclude and child.status() == psutil.STATUS_ZOMBIE:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, os.WNOHANG)


def _require_free_port(port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise EmbeddedServerError(f"port {port} is in use; set PORT to another port") from None


def _announce_when_up(port: int, banner: str, output: Output, stopping: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120
    while not stopping() and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.01)  # the listener opens tens of ms before the app answers ready: the banner comes first
            continue
        output.write(banner)
        return


def _banner(port: int, servers: EmbeddedServers, tokens: tuple[str, str], oidc_issuer: str = "") -> str:
    api = f"http://127.0.0.1:{port}"
    user, operator = (f'-H "Authorization: Bearer {token}"' for token in tokens)
    console = f"  Console     {api}/console   sign in with the operator token: {tokens[1]}"
    if oidc_issuer:  # the console's sign-in through the identity provider is on
        console += f"\n              or sign in through {oidc_issuer}"
    mail = f"  (messages in {servers.smtp.mail_dir})" if servers.smtp is not None else ""
    return "\n".join(
        [
            "",
            "=" * 72,
            f"  Folio API   {api}",
            f"  API docs    {api}/docs",
            f"  Try         curl -s {api}/health",
            f"              curl -s {user} {api}/api/user/1/portfolio",
            f"              curl -s --compressed {user} {api}/api/market-data | head -c 600   (prices move)",
            f"  Operator    curl -s {operator} {api}/api/user/2/portfolio",
            console,
            f"  Users       curl -s {operator} -H 'Content-Type: application/json' {api}/api/users"
            """ -d '{"email": "ada@example.com", "name": "Ada Lovelace"}'""",
            f"  API key     curl -s {user} -H 'Content-Type: application/json' {api}/api/user/1/api-keys"
            """ -d '{"name": "my script", "scopes": ["read"]}'""",
            f"  Metrics     curl -s {operator} {api}/metrics | grep ^folio_http_requests",
            f"  Fleet       curl -s {operator} {api}/api/ops/scaling",
            "  Tokens      user 1 and an operator, valid for TOKEN_TTL_S; more: make token USER=7",
            f"  PostgreSQL  {servers.database_url}",
            f"  Valkey      {servers.valkey_url}",
            f"  SMTP        {servers.smtp_url}{mail}",
            "  Ctrl-C stops everything.",
            "=" * 72,
            "",
        ]
    )


def main(settings: Settings, procfile: Path = Path("Procfile")) -> int:
    if not procfile.exists():
        print(f"error: {procfile} not found (run from the repository root)", file=sys.stderr)
        return 2
    return DevRunner(settings, procfile).run()
