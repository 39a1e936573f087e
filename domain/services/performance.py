"""A user's performance figures over a period, from its daily values and external flows (see
`domain.analytics.performance` for how each figure is computed)."""

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, timedelta

from domain.analytics.performance import performance, with_sharpe
from domain.analytics.periods import MAX_SPAN_DAYS, PERIODS, period_start
from domain.errors import InvalidRequestError
from domain.models.invalidations import Invalidation
from domain.models.performance import (
    BenchmarkFigures,
    DailyValue,
    ExternalFlow,
    HistoryVersion,
    PerformanceAnswer,
    PerformanceFigures,
    PerformanceReport,
    ValueHistory,
    encode_flows,
    encode_series,
)
from domain.ports.clock import Clock
from domain.ports.holdings import InvalidationBus
from domain.ports.performance import ValueHistorySource
from domain.services.performance_cache import AnswerCache

DEFAULT_SPAN = timedelta(days=365)
CACHED_REPORTS = 4096  # per process; a report of a year of days is some tens of kilobytes
# Figures over more days than this are computed off the event loop (a year of days takes well under a
# millisecond; ten years some milliseconds, which would hold every other request).
THREAD_ABOVE_DAYS = 1000
_ReportKey = tuple[int, str, str | None, date, HistoryVersion]


class PerformanceService:
    def __init__(
        self,
        history: ValueHistorySource,
        clock: Clock,
        *,
        risk_free_rate: float,
        max_span_days: int = MAX_SPAN_DAYS,
        cache_size: int = CACHED_REPORTS,
        bus: InvalidationBus | None = None,
    ) -> None:
        self._history = history
        self._clock = clock
        self._risk_free_rate = risk_free_rate
        self._max_span = timedelta(days=max_span_days)
        self._cache_size = cache_size  # 0: nothing kept
        self._reports: OrderedDict[_ReportKey, PerformanceReport] = OrderedDict()
        # The answers' rendered bodies; hits without a read while `bus` is trusted (see AnswerCache).
        self._answers = AnswerCache(cache_size, bus)

    async def figures(
        self, user_id: int, *, since: date | None = None, until: date | None = None
    ) -> PerformanceFigures:
        """The figures over [since, until]: by default the year up to today (UTC).

        Raises:
            InvalidRequestError: `until` in the future, `since` after `until`, or a span over the maximum.
            UserNotFoundError: no such user.
        """
        since, until = self._period(since, until)
        history = await self._history.history(user_id, since, until)
        # Pure CPU work, off the event loop: a statistic over years of days would hold every other request.
        return await asyncio.to_thread(performance, history.values, history.flows, risk_free_rate=self._risk_free_rate)

    def _period(self, since: date | None, until: date | None) -> tuple[date, date]:
        today = self._clock.now().date()
        end = until if until is not None else today
        if end > today:
            raise InvalidRequestError(f"until must not be after today ({today.isoformat()})", field="until")
        start = since if since is not None else end - DEFAULT_SPAN
        if start > end:
            raise InvalidRequestError("since must not be after until", field="since")
        if end - start > self._max_span:
            raise InvalidRequestError(f"the period must span at most {self._max_span.days} days", field="since")
        return start, end

    async def report(self, user_id: int, period: str, benchmark: str | None = None) -> tuple[PerformanceReport, bool]:
        """The figures over a named period up to today, the daily values, and a benchmark instrument's figures;
        and whether they came from the cache.

        Cached per (user, period, benchmark, day, history version): the version (last close recorded, the
        user's latest ledger entry and trade) changes with anything the answer depends on, so a cached report
        is never stale; asking for the version is one indexed read instead of the whole history.

        Raises:
            InvalidRequestError: an unknown period (`period`) or benchmark symbol (`benchmark`).
            UserNotFoundError: no such user.
        """
        since, until = self.period_of(period)
        key = (user_id, period, benchmark, until, await self._history.version(user_id))
        cached = self._reports.get(key)
        if cached is not None:
            self._reports.move_to_end(key)
            return cached, True
        history = await self._history.history(user_id, since, until)
        start = history.values[0].day if history.values else since
        closes = await self._history.closes(benchmark, start, until) if benchmark is not None else None
        report = await asyncio.to_thread(self._compute, since, until, history, benchmark, closes)
        self._reports[key] = report
        while len(self._reports) > self._cache_size:
            self._reports.popitem(last=False)
        return report, False

    async def answer(
        self, user_id: int, period: str, benchmark: str | None, render: Callable[[PerformanceAnswer], bytes]
    ) -> tuple[bytes, bool]:
        """`render` of what `report` answers (the same figures, the series and flows encoded once), and whether
        it came from the cache, which keeps the rendered bytes under `report`'s key: a hit is at most one version
        read, none while the invalidation channel vouches for the entry (see AnswerCache).

        A miss reads the answer stored with the daily values when it still answers (one row, see
        `ValueHistorySource.past`), else computes it from the history.

        Raises:
            InvalidRequestError: an unknown period (`period`) or benchmark symbol (`benchmark`).
            UserNotFoundError: no such user.
        """
        since, until = self.period_of(period)
        answers = self._answers
        if not answers.size:  # no version read for a cache that keeps nothing
            return render(await self._answer(user_id, period, since, until, benchmark)), False
        key = (user_id, period, benchmark, until)
        body = answers.fresh(key)
        if body is not None:
            return body, True
        ticket = answers.ticket(user_id)
        version = await self._history.version(user_id)
        body = answers.confirmed(key, version, ticket)
        if body is not None:
            return body, True
        body = render(await self._answer(user_id, period, since, until, benchmark))
        answers.put(key, version, body, ticket)
        return body, False

    def apply(self, message: Invalidation) -> None:
        """One message from the invalidation channel (see AnswerCache.apply)."""
        self._answers.apply(message)

    def lost(self) -> None:
        self._answers.lost()

    async def _answer(
        self, user_id: int, period: str, since: date, until: date, symbol: str | None
    ) -> PerformanceAnswer:
        past = await self._history.past(user_id, period, since, until)
        if past is not None:
            figures = with_sharpe(past.figures, past.annual_mean, self._risk_free_rate)
            series, flows, start = past.series, past.flows, past.figures.start
        else:
            history = await self._history.history(user_id, since, until)
            figures = await self._figures_of(history.values, history.flows)
            series, flows = encode_series(history.values), encode_flows(history.flows)
            start = history.values[0].day if history.values else None
        bench = None
        if symbol is not None:
            closes = await self._history.closes(symbol, start or since, until)
            bench = BenchmarkFigures(symbol=symbol, figures=await self._figures_of(closes, ()), series=closes)
        return PerformanceAnswer(since=since, until=until, figures=figures, series=series, flows=flows, benchmark=bench)

    async def _figures_of(self, values: tuple[DailyValue, ...], flows: tuple[ExternalFlow, ...]) -> PerformanceFigures:
        rate = self._risk_free_rate
        if len(values) > THREAD_ABOVE_DAYS:
            return await asyncio.to_thread(performance, values, flows, risk_free_rate=rate)
        return performance(values, flows, risk_free_rate=rate)

    def period_of(self, period: str) -> tuple[date, date]:
        """[since, until] of a named period ending today (UTC): 1M and 3M calendar months back, YTD from
        the 1st of January, 1Y a year back, ALL as far back as the maximum span."""
        today = self._clock.now().date()
        since = period_start(period, today, self._max_span.days)
        if since is None:
            raise InvalidRequestError(f"period must be one of {', '.join(PERIODS)}", field="period")
        return since, today

    def _compute(
        self,
        since: date,
        until: date,
        history: ValueHistory,
        symbol: str | None,
        closes: tuple[DailyValue, ...] | None,
    ) -> PerformanceReport:
        rate = self._risk_free_rate
        bench = None
        if symbol is not None and closes is not None:
            figures = performance(closes, (), risk_free_rate=rate)
            bench = BenchmarkFigures(symbol=symbol, figures=figures, series=closes)
        return PerformanceReport(
            since=since,
            until=until,
            figures=performance(history.values, history.flows, risk_free_rate=rate),
            series=history.values,
            flows=history.flows,
            benchmark=bench,
        )
