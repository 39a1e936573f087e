"""The numbers both sides of reports agree on: deadlines, attempts, history, the estimate."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    deadline_s: float  # a queued report waits this long before the sweeper sends it again; also a run's lease
    max_attempts: int
    history_days: int
    risk_free_rate: float
    estimate_s: float  # `estimated_completion` in the 202
    base_currency: str
    compute_concurrency: int = 1  # reports computing at once per process (one interpreter lock)
