"""The audit log's values and its hash chain, as pure functions: the writer and the verifier share them.

An entry records who (`actor`) did what (`action`, a dotted name) to what (`target`), under which request,
when, and a SHA-256 `digest` of the change's canonical JSON (the change itself is not kept: the log is
append-only, so it must hold nothing that erasure would have to remove). Each entry's `hash` covers the
previous entry's hash and its own fields in a fixed order, so changing, removing or inserting a row breaks
every link from there on.
"""

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

GENESIS = "0" * 64  # the `prev_hash` of the first entry

# Actions (dotted names).
USER_CREATE = "user.create"
USER_UPDATE = "user.update"
USER_ERASE = "user.erase"
USER_READ = "user.read"  # an operator read a user's data
TRADE_PLACE = "trade.place"
CASH_MOVE = "cash.move"  # a deposit or a withdrawal
QUOTES_INGEST = "quotes.ingest"
APIKEY_CREATE = "apikey.create"
APIKEY_REVOKE = "apikey.revoke"
SESSIONS_REVOKE = "sessions.revoke"
REPORT_REQUEUE = "report.requeue"  # an operator put a dead letter (a failed report) back in the queue
REPORT_CANCEL = "report.cancel"  # an operator cancelled a queued report or a dead letter
REPORTS_PAUSE = "reports.pause"  # an operator paused report processing (workers hold off)
REPORTS_RESUME = "reports.resume"  # an operator resumed report processing

_canonical = msgspec.json.Encoder(order="sorted")


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks for a change, as the audit log names them (`user:42`, `operator:ada`, `apikey:7`,
    `system:simulator`), and the request it came in."""

    name: str
    request_id: str | None = None


def user_target(user_id: int) -> str:
    return f"user:{user_id}"


def trade_target(user_id: int, trade_id: int) -> str:
    # Under the user's own target: `target=user:42` finds the trades of user 42 too.
    return f"{user_target(user_id)}/trade:{trade_id}"


def entry_target(user_id: int, entry_id: int) -> str:
    return f"{user_target(user_id)}/entry:{entry_id}"


def report_target(user_id: int, report_id: str) -> str:
    return f"{user_target(user_id)}/report:{report_id}"


def key_target(user_id: int, key_id: str) -> str:
    return f"{user_target(user_id)}/apikey:{key_id}"


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One change to record, in the same transaction as the change itself."""

    actor: str
    action: str
    target: str
    request_id: str | None
    change: dict[str, Any]
    at: datetime | None = None  # when it happened; None: the time of the transaction that appends it

    @classmethod
    def by(cls, actor: Actor, action: str, target: str, change: Mapping[str, Any] | None = None) -> "AuditEntry":
        return cls(
            actor=actor.name, action=action, target=target, request_id=actor.request_id, change=dict(change or {})
        )

    def completed(self, *, target: str | None = None, **change: Any) -> "AuditEntry":
        """This entry with what only the store learns inside the transaction: a new row's id, a version."""
        return msgspec.structs.replace(self, target=target or self.target, change={**self.change, **change})


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One stored entry, with its place in the chain."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    request_id: str | None
    digest: str
    prev_hash: str
    hash: str


class AuditQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Filters of the operators' listing; `target` also finds the targets under it (`user:42/trade:7`)."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[AuditRecord, ...]
    next_before: int | None


class ChainCheck(msgspec.Struct, frozen=True, kw_only=True):
    """What a walk of the chain found: how many entries it checked, and the first broken one if any."""

    checked: int
    broken_at: int | None = None  # the id of the first entry whose link or hash does not hold
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def change_digest(change: Mapping[str, Any]) -> str:
    """SHA-256 of the change's canonical JSON (keys sorted, decimals as exact strings)."""
    return hashlib.sha256(_canonical.encode(change)).hexdigest()


def canonical_time(at: datetime) -> str:
    """The entry's time as hashed: UTC, to the microsecond the database keeps."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _field_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def chain_hash(
    prev_hash: str, at: datetime, actor: str, action: str, target: str, request_id: str | None, digest: str
) -> str:
    """The entry's hash: SHA-256 of the previous hash followed by the hex SHA-256 of each field, in this order
    (fixed-width parts, so no field can run into the next; an absent request id counts as empty).

    PostgreSQL's `audit_append` (migration 0004) computes the same, so that an append is one statement.
    """
    fields = (canonical_time(at), actor, action, target, request_id or "", digest)
    return hashlib.sha256((prev_hash + "".join(_field_hash(f) for f in fields)).encode()).hexdigest()


def record_hash(record: AuditRecord) -> str:
    """The hash a stored record should carry, recomputed from its fields."""
    a = record
    return chain_hash(a.prev_hash, a.at, a.actor, a.action, a.target, a.request_id, a.digest)


def first_break(records: tuple[AuditRecord, ...], prev_hash: str) -> tuple[AuditRecord, str] | None:
    """The first record (oldest first) that does not follow `prev_hash` or whose hash is not its own, and why."""
    for record in records:
        if record.prev_hash != prev_hash:
            return record, "its prev_hash is not the previous entry's hash (an entry before it was changed or removed)"
        if record_hash(record) != record.hash:
            return record, "its hash does not match its fields (the entry was changed)"
        prev_hash = record.hash
    return None
