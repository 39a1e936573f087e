"""One audited change: who did what to which object, under which request, and the change itself.

The shared shape of the audit log's entries (the users and audit branch owns the log itself).
"""

from typing import Any

import msgspec


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    actor: str  # user:<id>, operator:<name>, apikey:<id>, system:<what>
    action: str  # dotted: apikey.create, apikey.revoke, sessions.revoke, ...
    target: str  # the object changed: user:<id>, apikey:<id>
    request_id: str | None
    change: dict[str, Any]
