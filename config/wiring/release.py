"""The release step's composition: the schema migrations, applied over DATABASE_DIRECT_URL (else DATABASE_URL),
and behind a transaction-mode pooler the statement timeout as the application role's default."""

from config.settings import Settings, SettingsError
from domain.adapters.postgres.migrate import apply_migrations, set_role_timeout


def migrate(settings: Settings) -> int:
    """Apply the outstanding migrations; return how many were applied."""
    if not settings.database_url:
        raise SettingsError("DATABASE_URL is not set (make run sets it to an embedded PostgreSQL)")
    return apply_migrations(settings.database_session_url)


def pooler_defaults(settings: Settings) -> str | None:
    """With DATABASE_POOLER set, make STATEMENT_TIMEOUT_MS the default of the role DATABASE_URL logs in as
    (its connections cannot set it themselves); what was set, or None without a pooler."""
    if not settings.database_pooler:
        return None
    role, database = set_role_timeout(
        settings.database_session_url, settings.database_url, settings.statement_timeout_ms
    )
    return f"statement_timeout {settings.statement_timeout_ms} ms is the default of role {role} in database {database}"
