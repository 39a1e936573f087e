"""The audit log in PostgreSQL: append-only for every role the app may have, and a chain that shows tampering.

Works in a database of its own (the tampering would break the session's chain for the other tests).
"""

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from psycopg import sql

from config.settings import Settings
from config.wiring.resources import pool_config
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.audit import PostgresAuditLog
from domain.adapters.postgres.migrate import apply_migrations
from domain.adapters.postgres.pool import Pool, open_pool
from domain.models.audit import Actor, AuditEntry
from tests.conftest import ROOT, with_settings

pytestmark = pytest.mark.integration

ENTRIES = 5


@pytest.fixture(scope="module")
def audit_database(servers) -> Iterator[str]:
    name = "folio_audit_tamper"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = servers.database_url.rsplit("/", 1)[0] + "/" + name
    apply_migrations(url)
    yield url
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute(drop)


@pytest.fixture
async def pool(audit_database: str, settings: Settings) -> AsyncIterator[Pool]:
    config = pool_config(with_settings(settings, database_url=audit_database), "folio-test-audit")
    config.min_size, config.max_size = 1, 2
    opened = await open_pool(config, NullMetrics())
    yield opened
    await opened.close()


def verify(database_url: str, process_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**process_env, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "cli", "audit", "verify"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


async def test_the_app_cannot_update_delete_or_truncate_the_log(pool: Pool, audit_database: str):
    await PostgresAuditLog(pool).append([AuditEntry.by(Actor(name="system:test"), "test.append", "t", {"n": 0})])
    with psycopg.connect(audit_database, autocommit=True) as conn:
        for statement in (
            "UPDATE audit_log SET actor = 'operator:mallory'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit_log WHERE actor = 'system:test'").fetchone() == (1,)


async def test_verify_passes_an_intact_chain_and_names_the_first_row_a_superuser_changed(
    pool: Pool, audit_database: str, process_env: dict[str, str]
):
    log = PostgresAuditLog(pool)
    for n in range(ENTRIES):
        await log.append(
            [AuditEntry.by(Actor(name=f"user:{n}", request_id=f"r{n}"), "test.append", f"user:{n}", {"n": n})]
        )
    intact = verify(audit_database, process_env)
    assert intact.returncode == 0, intact.stderr
    assert "the chain is intact" in intact.stdout

    with psycopg.connect(audit_database, autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM audit_log ORDER BY id")]
        victim = ids[3]
        # Only a superuser can do this, by turning the trigger off: what verify is there to catch.
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete")
        conn.execute("UPDATE audit_log SET target = 'user:999' WHERE id = %s", (victim,))
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_or_delete")
    changed = verify(audit_database, process_env)
    assert changed.returncode == 1
    assert f"broken at entry {victim} " in changed.stderr
    assert "does not match its fields" in changed.stderr

    with psycopg.connect(audit_database, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # the other way a superuser silences triggers
        conn.execute("DELETE FROM audit_log WHERE id >= %s", (victim,))
        conn.execute("DELETE FROM audit_log WHERE id = %s", (ids[1],))
    removed = verify(audit_database, process_env)
    assert removed.returncode == 1
    assert f"broken at entry {ids[2]} " in removed.stderr
    assert "changed or removed" in removed.stderr
