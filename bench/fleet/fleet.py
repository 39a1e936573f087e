"""The whole rehearsal fleet: the network, the `db` host, the app hosts, HAProxy, and the outside world.

`open_fleet()` builds it and, in its `finally`, stops every process it started (by PID) and deletes every
namespace, also when a step fails or the run is interrupted.
"""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.fleet.dbhost import PGBOUNCER_PORT, POSTGRES_PORT, SMTP_PORT
from bench.fleet.hosts import LB_PORT, ROOT, AppHost, HostProcess, start_db, start_haproxy
from bench.fleet.net import Network, network
from bench.fleet.sinks import HookReceiver, MailFolder, hook_receiver
from config.settings import Settings, load_settings
from gateway.auth import mint_token

JWT_SECRET = "folio-fleet-secret-" + "0123456789abcdef" * 2
API_KEY_SECRET = "folio-fleet-api-keys-" + "fedcba9876543210" * 2
APP_HOSTS = ("app1", "app2")
TEMPLATE_DB, RUN_DB = "folio", "folio_fleet"  # migrated and seeded once; a fresh copy of it for each run


def deadlines(report_deadline_s: float) -> dict[str, str]:
    """Short deadlines, so that a lost host's work comes back within the run."""
    return {
        "REPORT_DEADLINE_S": str(report_deadline_s),
        "REPORT_TIME_LIMIT_S": str(report_deadline_s * 0.75),
        "REPORT_SWEEP_INTERVAL_S": "2",
        "REPORT_MIN_BACKOFF_MS": "500",
        "REPORT_MAX_BACKOFF_MS": "2000",
        "BROKER_HEARTBEAT_TIMEOUT_MS": "5000",
        "WEBHOOK_TIMEOUT_S": "3",
        "WEBHOOK_LEASE_S": "5",
        "WEBHOOK_RETRY_SCHEDULE_S": "0,1,2,4,8,16",
        "WEBHOOK_RETRY_JITTER": "0",
        "WEBHOOK_RELAY_INTERVAL_S": "0.2",
        # A stopping web answers 503 on readiness this long before its listener closes: HAProxy's checks (every
        # 1 s, out after 3 failures) take it out meanwhile.
        "WEB_DRAIN_DELAY_S": "4",
    }


@dataclass
class Fleet:
    net: Network
    data_dir: Path
    database_url: str
    apps: dict[str, AppHost]
    mail: MailFolder
    hooks: HookReceiver
    settings: Settings
    symbols: list[str] = field(default_factory=list)
    started: list[HostProcess] = field(default_factory=list)

    @property
    def lb_url(self) -> str:
        return f"http://{self.net.address('lb')}:{LB_PORT}"

    @property
    def lb_socket(self) -> Path:
        return self.data_dir / "lb" / "haproxy.sock"

    def token(self, user_id: int | str, scope: str = "user") -> str:
        return mint_token(self.settings, subject=str(user_id), scope=scope)  # type: ignore[arg-type]

    def headers(self, user_id: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id)}"}


def app_env(net: Network, mail: MailFolder, report_deadline_s: float, rate_limit: int) -> dict[str, str]:
    db = net.address("db")
    return {
        "DATABASE_URL": f"postgresql://postgres@{db}:{POSTGRES_PORT}/{RUN_DB}",
        "VALKEY_URL": f"redis://{db}:6379/0",
        "SMTP_URL": mail.url,
        "ENVIRONMENT": "test",  # WEBHOOK_ALLOW_PRIVATE: the receiver is on a private address
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "JWT_SECRET": JWT_SECRET,
        "API_KEY_SECRET": API_KEY_SECRET,
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_MINUTE": str(rate_limit),
        "RATE_LIMIT_OPERATOR_PER_MINUTE": "1000000",
        **deadlines(report_deadline_s),
    }


def through_pgbouncer(env: dict[str, str]) -> dict[str, str]:
    """The processes' database through PgBouncer (transaction pooling); what needs a session (the migrations, the
    demo load) keeps the server itself as DATABASE_DIRECT_URL."""
    direct = env["DATABASE_URL"]
    return {
        **env,
        "DATABASE_URL": direct.replace(f":{POSTGRES_PORT}/", f":{PGBOUNCER_PORT}/"),
        "DATABASE_DIRECT_URL": direct,
        "DATABASE_POOLER": "pgbouncer",  # no prepared statements, no startup options
    }


def _release(env: dict[str, str]) -> None:
    """The release step (migrations) and the demo data on the template (from the runner: it reaches `db`), then
    this run's database, a file copy of the template: every run starts from the same rows, in seconds."""
    run_url = env["DATABASE_URL"]
    template_env = {**os.environ, **env, "DATABASE_URL": run_url.replace(f"/{RUN_DB}", f"/{TEMPLATE_DB}")}
    for step in (["-m", "cli", "migrate"], ["-m", "cli", "demo-data"]):
        done = subprocess.run(
            [sys.executable, *step], cwd=ROOT, env=template_env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(step[1:])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    with psycopg.connect(run_url.replace(f"/{RUN_DB}", "/postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {RUN_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {RUN_DB} TEMPLATE {TEMPLATE_DB} STRATEGY FILE_COPY")


@contextlib.contextmanager
def open_fleet(
    data_dir: Path,
    *,
    hosts: tuple[str, ...] = APP_HOSTS,
    report_deadline_s: float = 20.0,
    rate_limit: int = 600,
    pgbouncer: bool = False,
) -> Iterator[Fleet]:
    say = _Say()
    data_dir = data_dir.resolve()
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(network(os.getpid()))
        say(f"network: bridge {net.bridge}, hosts {', '.join(f'{h}={net.address(h)}' for h in ('db', *hosts, 'lb'))}")
        hooks = stack.enter_context(hook_receiver(net.address("root")))
        started: list[HostProcess] = []
        apps: dict[str, AppHost] = {}
        stack.callback(_stop_all, started, apps)
        started.append(start_db(net, data_dir / "db", pgbouncer=pgbouncer))
        say("db: PostgreSQL, Valkey and the mail server ready")
        mail = MailFolder(net.address("db"), SMTP_PORT, data_dir / "db" / "mail")
        env = app_env(net, mail, report_deadline_s, rate_limit)
        _release(env)  # on the server itself
        if pgbouncer:
            env = through_pgbouncer(env)
            say(f"db: the processes reach PostgreSQL through PgBouncer (transaction mode, port {PGBOUNCER_PORT})")
        say(f"release: migrations applied, demo data loaded, {RUN_DB} copied from it")
        for host in hosts:
            apps[host] = AppHost(net, host, env, data_dir / host)
            apps[host].launch()
        for app in apps.values():
            app.wait_started()
            say(f"{app.host}: web (2 Granian workers) and worker ready")
        started.append(start_haproxy(net, list(hosts), data_dir / "lb"))
        say("lb: HAProxy ready")
        settings = load_settings({**env, "RATE_LIMIT_PER_MINUTE": str(rate_limit)})
        direct = env.get("DATABASE_DIRECT_URL", env["DATABASE_URL"])  # the runner's checks read the server itself
        fleet = Fleet(net, data_dir, direct, apps, mail, hooks, settings, started=started)
        fleet.symbols = usd_equities(fleet.database_url)
        yield fleet


def usd_equities(database_url: str) -> list[str]:
    """Equities in the demo users' funded currency (the others need cash the users do not hold)."""
    query = "SELECT symbol FROM instruments WHERE asset_class = 'equity' AND currency = 'USD' ORDER BY id LIMIT 200"
    with psycopg.connect(database_url) as conn:
        return [str(row[0]) for row in conn.execute(query).fetchall()]


def _stop_all(started: list[HostProcess], apps: dict[str, AppHost]) -> None:
    """Stop HAProxy, then every app host's current processes, then the `db` host."""
    for proc in reversed(started[1:]):
        proc.stop(timeout=30)
    for app in apps.values():
        app.stop()
    for proc in started[:1]:
        proc.stop(timeout=30)


class _Say:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f} s] {text}", flush=True)
