"""The audit command's composition: a small pool of its own and the audit trail, for `python -m cli audit`."""

import asyncio

from config.settings import Settings, SettingsError
from config.wiring.resources import pool_config
from domain.adapters.null_metrics import NullMetrics
from domain.adapters.postgres.audit import PostgresAuditLog
from domain.adapters.postgres.pool import open_pool
from domain.models.audit import ChainCheck
from domain.services.audit import AuditTrail


async def _verify(settings: Settings) -> ChainCheck:
    config = pool_config(settings, "folio-audit")
    config.min_size, config.max_size = 1, 1
    # A command, not a request: it may wait for its connection, and one batch of the walk reads thousands of rows.
    config.timeout = config.deadline_s = max(config.deadline_s, 30.0)
    pool = await open_pool(config, NullMetrics())
    try:
        return await AuditTrail(PostgresAuditLog(pool)).verify()
    finally:
        await pool.close()


def verify_audit_chain(settings: Settings) -> ChainCheck:
    """Walk the audit log's hash chain in DATABASE_URL, oldest entry first; stops at the first broken link."""
    if not settings.database_url:
        raise SettingsError("DATABASE_URL is not set (make run sets it to an embedded PostgreSQL)")
    return asyncio.run(_verify(settings))
