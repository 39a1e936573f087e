"""The in-memory twin of the value-history source: each user's values and flows as a test lays them out."""

from datetime import date

from domain.errors import UnknownSymbolError, UserNotFoundError
from domain.models.performance import DailyValue, ExternalFlow, HistoryVersion, StoredPast, ValueHistory
from domain.ports.performance import ValueHistorySource


class InMemoryValueHistory(ValueHistorySource):
    def __init__(self) -> None:
        self.values: dict[int, dict[date, DailyValue]] = {}
        self.flows: dict[int, list[ExternalFlow]] = {}
        self.instrument_closes: dict[str, dict[date, DailyValue]] = {}
        self._changes: dict[int, int] = {}  # per user: how many times a test recorded something

    def add_user(self, user_id: int) -> None:
        self.values.setdefault(user_id, {})
        self.flows.setdefault(user_id, [])

    def record(self, user_id: int, *points: DailyValue | ExternalFlow) -> None:
        """Add values (a day's later value replaces its earlier one) and flows for a user, added if new."""
        self.add_user(user_id)
        self._changes[user_id] = self._changes.get(user_id, 0) + 1
        for point in points:
            if isinstance(point, DailyValue):
                self.values[user_id][point.day] = point
            else:
                self.flows[user_id].append(point)

    async def history(self, user_id: int, since: date, until: date) -> ValueHistory:
        if user_id not in self.values:
            raise UserNotFoundError(user_id)
        values = sorted((v for v in self.values[user_id].values() if since <= v.day <= until), key=lambda v: v.day)
        flows = sorted((f for f in self.flows[user_id] if since <= f.day <= until), key=lambda f: f.day)
        return ValueHistory(values=tuple(values), flows=tuple(flows))

    async def past(self, user_id: int, period: str, since: date, until: date) -> StoredPast | None:
        return None  # nothing is stored ahead of a read here: every answer is computed from the history

    def record_closes(self, symbol: str, *closes: DailyValue) -> None:
        """An instrument's closes (a day's later close replaces its earlier one)."""
        self.instrument_closes.setdefault(symbol, {}).update((c.day, c) for c in closes)

    async def version(self, user_id: int) -> HistoryVersion:
        if user_id not in self.values:
            raise UserNotFoundError(user_id)
        days = [d for closes in self.instrument_closes.values() for d in closes]
        changes = self._changes.get(user_id, 0)
        return HistoryVersion(last_close=max(days, default=None), ledger_entry=changes, trade=0)

    async def closes(self, symbol: str, since: date, until: date) -> tuple[DailyValue, ...]:
        if symbol not in self.instrument_closes:
            raise UnknownSymbolError(symbol, field="benchmark")
        closes = self.instrument_closes[symbol]
        return tuple(closes[d] for d in sorted(closes) if since <= d <= until)
