"""The Procfile's `release` line, run as the platform runs it (`sh -c`), on a fresh empty database."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yoyo

from cli.devrun import read_procfile
from cli.embedded import EmbeddedServers
from domain.adapters.postgres.migrate import MIGRATIONS_DIR

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = """
SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
WHERE table_schema = 'public' ORDER BY 1, 2
"""


@pytest.fixture
def empty_database(servers: EmbeddedServers) -> Iterator[str]:
    name = f"release_{os.getpid()}"
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield servers.database_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def release(database_url: str) -> subprocess.CompletedProcess[str]:
    line = read_procfile(ROOT / "Procfile")["release"]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        # `python` on the line is the project's, as on the platform's image.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    return subprocess.run(
        ["sh", "-c", line], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def schema(database_url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(SCHEMA).fetchall()


def test_release_applies_the_schema_once_and_then_says_it_is_up_to_date(empty_database: str) -> None:
    assert schema(empty_database) == []

    first = release(empty_database)
    assert first.returncode == 0, first.stderr
    assert f"{len(yoyo.read_migrations(str(MIGRATIONS_DIR)))} migration(s) applied" in first.stdout
    tables = {table for table, _, _ in schema(empty_database)}
    assert {
        "users",
        "instruments",
        "quotes",
        "daily_prices",
        "holdings",
        "trades",
        "reports",
        "quote_versions",
    } <= tables
    applied = schema(empty_database)

    second = release(empty_database)
    assert second.returncode == 0, second.stderr
    assert "schema is up to date" in second.stdout
    assert "applied" not in second.stdout
    assert schema(empty_database) == applied
