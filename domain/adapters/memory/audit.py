"""The in-memory twin of the audit log: the same chain, in a list. The stores' twins record through it."""

from collections.abc import Sequence

from domain.adapters.memory.clock import FixedClock
from domain.models.audit import GENESIS, AuditEntry, AuditPage, AuditQuery, AuditRecord, chain_hash, change_digest
from domain.ports.audit import AuditLog
from domain.ports.clock import Clock


class InMemoryAuditLog(AuditLog):
    def __init__(self, clock: Clock | None = None) -> None:
        self.records: list[AuditRecord] = []
        self.clock = clock or FixedClock()  # stands for the database server's now()

    def record(self, entry: AuditEntry) -> None:
        """What `append_audit` does in a store's transaction (the twins have no transactions to join)."""
        prev = self.records[-1].hash if self.records else GENESIS
        at = entry.at or self.clock.now()
        digest = change_digest(entry.change)
        self.records.append(
            AuditRecord(
                id=len(self.records) + 1,
                at=at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                request_id=entry.request_id,
                digest=digest,
                prev_hash=prev,
                hash=chain_hash(prev, at, entry.actor, entry.action, entry.target, entry.request_id, digest),
            )
        )

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        for entry in entries:
            self.record(entry)

    async def page(self, query: AuditQuery, *, limit: int, before: int | None) -> AuditPage:
        found = [r for r in reversed(self.records) if (before is None or r.id < before) and _matches(r, query)]
        items = tuple(found[:limit])
        return AuditPage(items=items, next_before=items[-1].id if len(found) > limit else None)

    async def walk(self, *, after: int, limit: int) -> tuple[AuditRecord, ...]:
        return tuple(r for r in self.records if r.id > after)[:limit]


def _matches(record: AuditRecord, query: AuditQuery) -> bool:
    return (
        (query.actor is None or record.actor == query.actor)
        and (query.action is None or record.action == query.action)
        and (query.target is None or record.target == query.target or record.target.startswith(f"{query.target}/"))
        and (query.since is None or record.at >= query.since)
    )
