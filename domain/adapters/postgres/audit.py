"""The audit log's one writer, called by every state-changing adapter inside its own transaction.

A stand-in of the shared signature: the users and audit branch provides the real writer (the hash
chain over each entry's canonical JSON) in this module; until it is merged, entries go nowhere.
"""

from psycopg import AsyncConnection

from domain.models.audit import AuditEntry


async def append_audit(conn: AsyncConnection, entry: AuditEntry) -> None:
    """Append `entry` in the caller's transaction (a no-op here, see the module's docstring)."""
    del conn, entry
