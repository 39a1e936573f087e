"""The market day: the jobs that run once per day at the close, and which days a clock owes them.

A job is known by its name; each runs at most once per day (the store records a (job, day) run in the
job's own transaction). The days are UTC calendar days, every day of the week (the simulator and crypto
trade at weekends too).
"""

from datetime import date, datetime, time, timedelta

import msgspec

CLOSE_JOB = "close"  # record each instrument's daily close from its last quote, roll its previous close
RETENTION_JOB = "report_retention"  # delete finished reports older than the retention period
CORPORATE_ACTION_JOB = "corporate_actions"  # splits, dividends' holders and payments due (models.corporate_actions)
DAILY_JOBS: tuple[str, ...] = (CLOSE_JOB, RETENTION_JOB, CORPORATE_ACTION_JOB)  # sent in this order for a day

# Audit actions (dotted names, as in domain.models.audit).
MARKET_CLOSE = "market.close"
REPORTS_PURGE = "reports.purge"


class ClosedDay(msgspec.Struct, frozen=True, kw_only=True):
    """What a day's close did: the closes it recorded and the quote version that published the new day."""

    closes: int
    version: int


def market_day_target(day: date) -> str:
    return f"market-day:{day.isoformat()}"


def parse_close_time(text: str) -> time:
    """`HH:MM` (24-hour, as the MARKET_CLOSE_UTC setting checks it) into a time of day; ValueError otherwise."""
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes))


def latest_due_day(now: datetime, close_at: time) -> date:
    """The newest day whose close time has passed at `now` (UTC): today after the close, else yesterday."""
    today = now.date()
    return today if now.time() >= close_at else today - timedelta(days=1)


def owed_days(last_run: date | None, latest_due: date, limit: int) -> tuple[date, ...]:
    """The days after `last_run` up to `latest_due`, oldest first, at most the newest `limit` of them.

    A job that never ran owes only `latest_due` (a new deployment does not invent a history).
    """
    if last_run is None:
        return (latest_due,)
    first = max(last_run + timedelta(days=1), latest_due - timedelta(days=limit - 1))
    return tuple(first + timedelta(days=i) for i in range((latest_due - first).days + 1))
