"""The soak's pass/fail criteria over its series: pure functions of the minutes and the process samples.

A minute is one paced wrk run (wrk prints totals only, so the soak runs one per minute); a sample is every
Folio process's resident memory and open file descriptors at one instant. The first minute(s) are the warm-up:
caches fill, pools grow to their working size, so the criteria compare the later minutes with the first
minute after it.
"""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RSS_GROWTH_MAX_PCT = 5.0
P99_MAX_RATIO = 1.2
# Open descriptors move with the load without leaking: the database pool (DATABASE_POOL_SIZE, 20) opens and
# closes connections with demand, and a few Valkey/HTTP client sockets open on demand. A leak of one descriptor
# per request, stream, report or webhook delivery grows by hundreds over the run, far past this.
FDS_TOLERANCE = 32


@dataclass(frozen=True)
class Minute:
    """One paced wrk run: its start (seconds since the soak's start) and totals."""

    start_s: float
    rps: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Sample:
    """Every Folio process's (RSS bytes, open fds) at `at_s` seconds since the soak's start."""

    at_s: float
    processes: Mapping[str, tuple[int, int]]


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Failures:
    """The errors a user would notice beyond wrk's own: streams, reports, webhook deliveries."""

    streams_not_open: int = 0
    streams_dropped: int = 0
    reports_not_succeeded: int = 0
    webhooks_not_delivered: int = 0
    notes: list[str] = field(default_factory=list)


def after_warmup(samples: Sequence[Sample], warmup_s: float) -> list[Sample]:
    return [s for s in samples if s.at_s >= warmup_s]


def fitted_rise(samples: Sequence[Sample], name: str, index: int) -> tuple[float, float]:
    """(start, rise) of the straight line fitted through process `name`'s figure `index` over the samples.

    A fit, not two single samples: the heap of a busy process moves by several percent with the requests in
    flight at the instant of a sample, and a leak is the trend under that noise."""
    points = [(s.at_s, float(s.processes[name][index])) for s in samples if name in s.processes]
    if len(points) < 2 or points[0][0] == points[-1][0]:
        return (points[0][1] if points else 0.0), 0.0
    slope, intercept = statistics.linear_regression([t for t, _ in points], [v for _, v in points])
    start = intercept + slope * points[0][0]
    return start, slope * (points[-1][0] - points[0][0])


def rss_growth(samples: Sequence[Sample]) -> Verdict:
    """Each process's RSS growth over the run after the warm-up (fitted): under 5 %."""
    if len(samples) < 2:
        return Verdict("RSS growth", False, "fewer than 2 samples after the warm-up")
    names = list(samples[0].processes)
    fits = {name: fitted_rise(samples, name, 0) for name in names}
    growth = {name: 100 * rise / start if start else 0.0 for name, (start, rise) in fits.items()}
    missing = sorted(set(names) - set(samples[-1].processes))
    passed = not missing and bool(growth) and all(g < RSS_GROWTH_MAX_PCT for g in growth.values())
    parts = [f"{name} {fits[name][0] / 2**20:.0f} MB {g:+.1f}%" for name, g in growth.items()]
    if missing:
        parts.append(f"gone: {', '.join(missing)}")
    return Verdict("RSS growth", passed, f"< {RSS_GROWTH_MAX_PCT:g}% per process (fitted): " + ", ".join(parts))


def fds_flat(samples: Sequence[Sample]) -> Verdict:
    """Each process's open fds rise at most FDS_TOLERANCE over the run after the warm-up (fitted)."""
    if len(samples) < 2:
        return Verdict("open fds flat", False, "fewer than 2 samples after the warm-up")
    names = list(samples[0].processes)
    fits = {name: fitted_rise(samples, name, 1) for name in names}
    passed = bool(fits) and all(rise <= FDS_TOLERANCE for _, rise in fits.values())
    parts = ", ".join(f"{name} {start:.0f} {rise:+.0f}" for name, (start, rise) in fits.items())
    return Verdict("open fds flat", passed, f"at most +{FDS_TOLERANCE} per process (fitted): {parts}")


def p99_steady(minutes: Sequence[Minute], warmup_minutes: int = 1) -> Verdict:
    """Every minute after the first measured one has p99 at most 20 % above that minute's."""
    measured = minutes[warmup_minutes:]
    if not measured:
        return Verdict("p99 steady", False, "no minute after the warm-up")
    base = measured[0].p99_ms
    ratios = [m.p99_ms / base if base else float("inf") for m in measured[1:]]
    passed = all(r <= P99_MAX_RATIO for r in ratios)
    later = ", ".join(f"{m.p99_ms:.1f}" for m in measured[1:]) or "none (a run of one measured minute)"
    detail = f"first measured minute {base:.1f} ms; later minutes (<= {base * P99_MAX_RATIO:.1f} ms): {later}"
    return Verdict("p99 steady", passed, detail)


def no_errors(minutes: Sequence[Minute], failures: Failures) -> Verdict:
    """0 HTTP >= 400 or socket errors in any minute, 0 streams lost, reports failed or deliveries missing."""
    counts = {
        "HTTP/socket": sum(m.errors for m in minutes),
        "streams not opened": failures.streams_not_open,
        "streams dropped": failures.streams_dropped,
        "reports not succeeded": failures.reports_not_succeeded,
        "webhooks not delivered": failures.webhooks_not_delivered,
    }
    detail = ", ".join(f"{name} {count}" for name, count in counts.items())
    if failures.notes:
        detail += "; " + "; ".join(failures.notes)
    return Verdict("0 errors", not any(counts.values()), detail)


def judge(
    minutes: Sequence[Minute], samples: Sequence[Sample], failures: Failures, warmup_minutes: int = 1
) -> list[Verdict]:
    """Every criterion over the minutes and samples after the first `warmup_minutes` (errors: over all)."""
    later = after_warmup(samples, minutes[warmup_minutes].start_s) if len(minutes) > warmup_minutes else []
    return [rss_growth(later), fds_flat(later), p99_steady(minutes, warmup_minutes), no_errors(minutes, failures)]
