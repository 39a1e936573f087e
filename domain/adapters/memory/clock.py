"""A clock that stands still until a test moves it."""

from datetime import UTC, datetime, timedelta

from domain.ports.clock import Clock


class FixedClock(Clock):
    def __init__(self, start: datetime = datetime(2026, 10, 30, 20, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def time(self) -> float:
        return self.current.timestamp()

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def set(self, epoch_s: float) -> None:
        self.current = datetime.fromtimestamp(epoch_s, tz=UTC)
