"""The in-memory twin of the value-history source: each user's values and flows as a test lays them out."""

from datetime import date

from domain.errors import UserNotFoundError
from domain.models.performance import DailyValue, ExternalFlow, ValueHistory
from domain.ports.performance import ValueHistorySource


class InMemoryValueHistory(ValueHistorySource):
    def __init__(self) -> None:
        self.values: dict[int, dict[date, DailyValue]] = {}
        self.flows: dict[int, list[ExternalFlow]] = {}

    def add_user(self, user_id: int) -> None:
        self.values.setdefault(user_id, {})
        self.flows.setdefault(user_id, [])

    def record(self, user_id: int, *points: DailyValue | ExternalFlow) -> None:
        """Add values (a day's later value replaces its earlier one) and flows for a user, added if new."""
        self.add_user(user_id)
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
