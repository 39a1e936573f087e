"""The quote book: the current market snapshot, held in process and refreshed by version."""

from domain.models import QuoteSnapshot, build_snapshot
from domain.ports import QuoteRepository


class QuoteBook:
    """Holds the newest published snapshot; `refresh` loads a new one only when the version moved."""

    def __init__(self, repository: QuoteRepository, base_currency: str) -> None:
        self._repository = repository
        self._base_currency = base_currency
        self._snapshot = build_snapshot(0, {}, {}, base_currency)

    def current(self) -> QuoteSnapshot:
        return self._snapshot

    async def refresh(self) -> bool:
        """Load the newest snapshot if its version differs from the one held; True when it changed."""
        version = await self._repository.latest_version()
        if version == self._snapshot.version and self._snapshot.instruments:
            return False
        self._snapshot = await self._repository.load_snapshot(self._base_currency)
        return True
