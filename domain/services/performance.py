"""A user's performance figures over a period, from its daily values and external flows (see
`domain.analytics.performance` for how each figure is computed)."""

import asyncio
from datetime import date, timedelta

from domain.analytics.performance import performance
from domain.errors import InvalidRequestError
from domain.models.performance import PerformanceFigures
from domain.ports.clock import Clock
from domain.ports.performance import ValueHistorySource

DEFAULT_SPAN = timedelta(days=365)
MAX_SPAN_DAYS = 3660  # ten years of daily values: a few thousand points, computed in milliseconds


class PerformanceService:
    def __init__(
        self, history: ValueHistorySource, clock: Clock, *, risk_free_rate: float, max_span_days: int = MAX_SPAN_DAYS
    ) -> None:
        self._history = history
        self._clock = clock
        self._risk_free_rate = risk_free_rate
        self._max_span = timedelta(days=max_span_days)

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
