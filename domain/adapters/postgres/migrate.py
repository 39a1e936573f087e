"""Schema migrations: the SQL files beside this module, applied with yoyo under its lock."""

from pathlib import Path

import psycopg
import yoyo
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_PSYCOPG_SCHEME = "postgresql+psycopg"
_PLAIN_SCHEMES = ("postgresql", "postgres")


def yoyo_url(database_url: str) -> str:
    """The same URL with the scheme yoyo needs to drive psycopg 3 (``postgresql+psycopg://``)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        raise ValueError("database_url must look like postgresql://user@host/dbname")
    if scheme in _PLAIN_SCHEMES:
        return f"{_PSYCOPG_SCHEME}://{rest}"
    if scheme == _PSYCOPG_SCHEME:
        return database_url
    raise ValueError(f"unsupported database URL scheme {scheme!r}; expected postgresql://")


def apply_migrations(database_url: str) -> int:
    """Apply the outstanding migrations; return how many were applied (0 when up to date)."""
    backend = yoyo.get_backend(yoyo_url(database_url))
    try:
        # A migration takes as long as it takes: not bounded by the role's default (`set_role_timeout`).
        backend.execute("SET statement_timeout = 0")
        migrations = yoyo.read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            outstanding = backend.to_apply(migrations)
            count = len(outstanding)
            if count:
                backend.apply_migrations(outstanding)
        return count
    finally:
        backend.connection.close()


def set_role_timeout(direct_url: str, app_url: str, statement_timeout_ms: int) -> tuple[str, str]:
    """Make `statement_timeout` the default of the role and database named in `app_url`, set over `direct_url`.

    Through a transaction-mode pooler a connection cannot carry it as a startup option or a session SET (the
    server connection under it changes with every transaction), so the server connections the pooler opens for
    that role start with it instead. Those it holds already keep what they started with until it replaces them
    (PgBouncer: `server_lifetime`); so the names come from the URL, not from a connection through the pooler,
    which would open one before the default is set. Returns the (role, database) it was set for.
    """
    named = conninfo_to_dict(app_url)
    role, database = named.get("user"), named.get("dbname")
    if not role or not database:
        raise ValueError("DATABASE_URL must name its user and database (postgresql://user@host/dbname)")
    statement = sql.SQL("ALTER ROLE {} IN DATABASE {} SET statement_timeout = {}").format(
        sql.Identifier(str(role)), sql.Identifier(str(database)), sql.Literal(f"{statement_timeout_ms}ms")
    )
    with psycopg.connect(direct_url, autocommit=True) as conn:
        conn.execute(statement)
    return str(role), str(database)
