"""Schema migrations: the SQL files beside this module, applied with yoyo under its lock."""

from pathlib import Path

import yoyo

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
        migrations = yoyo.read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            outstanding = backend.to_apply(migrations)
            count = len(outstanding)
            if count:
                backend.apply_migrations(outstanding)
        return count
    finally:
        backend.connection.close()
