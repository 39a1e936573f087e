"""Report gauges for the metrics: rows per status and the queue's backlog, sampled on an interval.

One sampler per web process, every `interval_s` (not per scrape): one GROUP BY and one Valkey
round trip. The gauges merge as "most recent", so every process reports the same figures.
"""

import asyncio
import logging

from domain.errors import DomainError
from domain.ports.fleet import QueueBacklog
from domain.ports.metrics import Metrics
from domain.ports.reports import ReportStatistics

log = logging.getLogger("folio.metrics")


class ReportTelemetry:
    def __init__(
        self, statistics: ReportStatistics, backlog: QueueBacklog, metrics: Metrics, *, interval_s: float
    ) -> None:
        self._statistics = statistics
        self._backlog = backlog
        self._metrics = metrics
        self._interval_s = interval_s

    async def sample(self) -> None:
        counts = await self._statistics.counts()
        backlog = await self._backlog.measure()
        self._metrics.reports(counts, backlog.queued, backlog.oldest_age_s)

    async def run(self) -> None:
        """Sample every `interval_s` until cancelled; a store that does not answer skips a sample."""
        while True:
            try:
                await self.sample()
            except DomainError as e:
                log.warning("report metrics not sampled: %s", e.detail)
            await asyncio.sleep(self._interval_s)
