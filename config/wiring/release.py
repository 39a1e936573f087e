"""The release step's composition: the schema migrations, applied to DATABASE_URL."""

from config.settings import Settings, SettingsError
from domain.adapters.postgres.migrate import apply_migrations


def migrate(settings: Settings) -> int:
    """Apply the outstanding migrations; return how many were applied."""
    if not settings.database_url:
        raise SettingsError("DATABASE_URL is not set (make run sets it to an embedded PostgreSQL)")
    return apply_migrations(settings.database_url)
