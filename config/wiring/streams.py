"""The live portfolio streams' hub of a web process, built on the process's existing feeds."""

import contextlib

from config.wiring.background import run_in_background
from config.wiring.resources import Resources
from domain.services.market_data import QuoteBook
from domain.services.portfolios import PortfolioService
from domain.services.streams.hub import PortfolioStreams, StreamLimits
from domain.services.streams.wire import JsonPortfolioWire


def open_streams(
    resources: Resources,
    book: QuoteBook,
    portfolios: PortfolioService,
    wire: JsonPortfolioWire,
    stack: contextlib.AsyncExitStack,
) -> PortfolioStreams:
    """The live streams' hub: fed by the book's snapshots and the invalidations, never a subscription of its own."""
    settings = resources.settings
    limits = StreamLimits(
        min_interval_s=settings.stream_min_interval_ms / 1000,
        heartbeat_s=settings.stream_heartbeat_s,
        retry_ms=settings.stream_retry_ms,
        max_per_user=settings.stream_max_per_user,
        max_per_process=settings.stream_max_per_process,
        stall_s=settings.stream_stall_s,
    )
    streams = PortfolioStreams(portfolios, wire, limits)
    book.on_change(streams.quotes_changed)
    run_in_background(stack, streams.run(), "streams")
    run_in_background(stack, streams.heartbeats(), "stream-heartbeats")
    return streams
