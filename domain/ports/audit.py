"""The audit log: append-only and hash-chained; stores write their entries through it in their own
transactions, and batches of reads are appended on their own."""

from abc import abstractmethod
from collections.abc import Sequence
from typing import Protocol

from domain.models.audit import AuditEntry, AuditPage, AuditQuery, AuditRecord


class AuditLog(Protocol):
    """Entries in the order their transactions committed, each chained to the one before."""

    @abstractmethod
    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Append `entries`, in order, in one transaction of their own (an entry without `at` gets its time).

        Raises:
            UnavailableError: the store cannot answer now (nothing was appended).
        """

    @abstractmethod
    async def page(self, query: AuditQuery, *, limit: int, before: int | None) -> AuditPage:
        """Entries matching `query`, newest (highest id) first, with ids below `before`."""

    @abstractmethod
    async def walk(self, *, after: int, limit: int) -> tuple[AuditRecord, ...]:
        """Up to `limit` entries with ids above `after`, oldest first (to verify the chain)."""
