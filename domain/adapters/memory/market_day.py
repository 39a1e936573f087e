"""The in-memory twin of the market day store, over the quote and report twins (the same rules as the SQL)."""

from datetime import date, datetime

import msgspec

from domain.adapters.memory.quotes import InMemoryQuoteRepository
from domain.adapters.memory.reports import InMemoryReportRepository
from domain.models.audit import AuditEntry
from domain.models.market_day import CLOSE_JOB, RETENTION_JOB, ClosedDay
from domain.models.quotes import DailyClose
from domain.ports.market_day import DailyJobQueue, MarketDayStore


class InMemoryMarketDayStore(MarketDayStore):
    def __init__(self, quotes: InMemoryQuoteRepository, reports: InMemoryReportRepository) -> None:
        self.quotes = quotes
        self.reports = reports
        self.runs: dict[tuple[str, date], int] = {}  # (job, day) -> outcome

    async def last_run(self, job: str) -> date | None:
        return max((day for name, day in self.runs if name == job), default=None)

    async def close_day(self, day: date, *, audit: AuditEntry) -> ClosedDay | None:
        if (CLOSE_JOB, day) in self.runs:
            return None
        for instrument_id, quote in self.quotes.quotes.items():
            history = [c for c in self.quotes.closes.get(instrument_id, []) if c.day != day]
            history.append(DailyClose(day=day, close=quote.price))
            self.quotes.closes[instrument_id] = sorted(history, key=lambda c: c.day)
        rolled = [
            msgspec.structs.replace(q, previous_close=q.price, day_high=q.price, day_low=q.price, volume=0)
            for q in self.quotes.quotes.values()
        ]
        version = self.quotes.publish(*rolled)
        closes = len(rolled)
        self.runs[CLOSE_JOB, day] = closes
        self.quotes.audit.record(audit.completed(closes=closes, version=version))
        return ClosedDay(closes=closes, version=version)

    async def purge_reports(self, day: date, *, before: datetime, audit: AuditEntry) -> int | None:
        if (RETENTION_JOB, day) in self.runs:
            return None
        old = [
            r.id
            for r in self.reports.rows.values()
            if r.status in ("succeeded", "failed", "cancelled") and r.created_at < before
        ]
        for report_id in old:
            del self.reports.rows[report_id]
            self.reports.documents.pop(report_id, None)
        self.reports.keys = {k: v for k, v in self.reports.keys.items() if v not in old}  # the row held its key
        self.runs[RETENTION_JOB, day] = len(old)
        self.quotes.audit.record(audit.completed(deleted=len(old), before=before.isoformat()))
        return len(old)


class InMemoryDailyJobQueue(DailyJobQueue):
    """Keeps what was sent, in order, for a test to deliver (as often as it likes)."""

    def __init__(self, jobs: tuple[str, ...]) -> None:
        self.jobs = jobs
        self.sent: list[tuple[str, date]] = []

    async def send(self, job: str, day: date) -> None:
        if job not in self.jobs:
            raise KeyError(job)
        self.sent.append((job, day))
