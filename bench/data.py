"""The data under test: embedded servers, the Procfile's release step, demo data, a fresh copy per run."""

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.servers import ROOT
from cli.devrun import read_procfile
from cli.embedded import EmbeddedServers, start_embedded

TEMPLATE_DB = "folio"  # migrated and seeded once, then left alone
RUN_DB = "folio_bench"  # copied from the template at the start of each run: trades write here
SYMBOL_COUNT = 200


@dataclass
class BenchData:
    servers: EmbeddedServers
    env: dict[str, str]  # for every process started: the servers' URLs, PATH with the venv
    symbols: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.servers.close()


def prepare(data_dir: Path, procfile: Path) -> BenchData:
    """Start servers for unset URLs under `data_dir`, migrate, seed (once), copy the database for this run."""
    print(f"Starting embedded servers for unset URLs under {data_dir}/ ...", flush=True)
    servers = start_embedded(os.environ, data_dir)
    try:
        env = {
            **os.environ,
            **servers.env(),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "PYTHONPATH": str(ROOT),  # so Granian finds bench.ceiling as it finds gateway.app
            "PYTHONUNBUFFERED": "1",
        }
        data = BenchData(servers, env)
        release = read_procfile(procfile).get("release")
        if release:
            _step("release", ["sh", "-c", release], env)
        _step("demo data", [sys.executable, "-m", "cli", "demo-data"], env)
        # The steady state of users who read their performance: their daily values stored (the close adds a day
        # to them), so the performance scenarios measure a read, not a first-read fill (a no-op once stored).
        _step("daily values", [sys.executable, "-m", "cli", "daily-values"], env)
        if servers.postgres is not None:
            _fresh_copy(servers.postgres.url("postgres"))
            env["DATABASE_URL"] = servers.postgres.url(RUN_DB)
        else:
            data.notes.append("DATABASE_URL is given: trades write to that database, so runs drift")
        data.symbols = equity_symbols(env["DATABASE_URL"])
    except BaseException:
        servers.close()
        raise
    return data


def _step(name: str, command: list[str], env: dict[str, str]) -> None:
    print(f"--> {name}: {command[-1] if command[0] == 'sh' else ' '.join(command[1:])}", flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def _fresh_copy(maintenance_url: str) -> None:
    """Replace RUN_DB by a file copy of the seeded template, so every run starts from the same rows."""
    print(f"--> copy database {TEMPLATE_DB} to {RUN_DB}", flush=True)
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {RUN_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {RUN_DB} TEMPLATE {TEMPLATE_DB} STRATEGY FILE_COPY")


def equity_symbols(database_url: str, count: int = SYMBOL_COUNT) -> list[str]:
    """`count` equity symbols any user can buy, in id order."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT symbol FROM instruments WHERE asset_class = 'equity' ORDER BY id LIMIT %s", (count,)
        ).fetchall()
    return [str(row[0]) for row in rows]
