"""DATABASE_POOLER and DATABASE_DIRECT_URL: what a pooled connection may carry, and where sessions connect."""

import pytest

from config.settings import SettingsError, load_settings
from config.wiring.release import pooler_defaults
from config.wiring.resources import pool_config
from domain.adapters.postgres.pool import session_kwargs

POOLER = "postgresql://folio:secret@pgbouncer:6432/folio"
DIRECT = "postgresql://folio:secret@postgres:5432/folio"


def test_sessions_use_the_direct_url_when_one_is_given_else_the_database_url():
    pooled = load_settings({"DATABASE_URL": POOLER, "DATABASE_DIRECT_URL": DIRECT, "DATABASE_POOLER": "pgbouncer"})
    assert (pooled.database_url, pooled.database_session_url) == (POOLER, DIRECT)
    assert load_settings({"DATABASE_URL": DIRECT}).database_session_url == DIRECT


def test_through_pgbouncer_a_connection_prepares_nothing_and_sends_no_startup_options():
    pooled = load_settings({"DATABASE_URL": POOLER, "DATABASE_POOLER": "pgbouncer", "STATEMENT_TIMEOUT_MS": "900"})
    assert session_kwargs(pool_config(pooled, "folio-web")) == {"prepare_threshold": None}
    direct = load_settings({"DATABASE_URL": DIRECT, "STATEMENT_TIMEOUT_MS": "900"})
    assert session_kwargs(pool_config(direct, "folio-web")) == {"options": "-c statement_timeout=900"}


def test_an_unknown_pooler_is_refused_naming_the_variable():
    with pytest.raises(SettingsError, match="DATABASE_POOLER"):
        load_settings({"DATABASE_URL": POOLER, "DATABASE_POOLER": "pgpool"})


def test_without_a_pooler_the_release_leaves_the_roles_defaults_alone():
    assert pooler_defaults(load_settings({"DATABASE_URL": DIRECT})) is None


def test_the_release_refuses_a_pooled_url_that_names_no_user_or_database():
    settings = load_settings({"DATABASE_URL": "postgresql://pgbouncer:6432", "DATABASE_POOLER": "pgbouncer"})
    with pytest.raises(ValueError, match="DATABASE_URL must name its user and database"):
        pooler_defaults(settings)
