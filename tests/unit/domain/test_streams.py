"""The live streams' hub and mailboxes, on the in-memory twins: what a stream's reader would receive."""

import asyncio
from decimal import Decimal

import msgspec
import pytest

from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.null_metrics import NullMetrics
from domain.errors import StreamsDrainingError, TooManyStreamsError
from domain.models.holdings import Holding, Holdings
from domain.models.invalidations import HoldingsChanged
from domain.services.market_data import QuoteBook
from domain.services.portfolios import PortfolioService
from domain.services.streams.hub import PortfolioStreams, StreamLimits
from domain.services.streams.subscriber import HEARTBEAT, Subscriber
from domain.services.streams.wire import JsonPortfolioWire
from tests.unit.domain.test_portfolios import market, quote  # noqa: F401 (the fixture)

LIMITS = {
    "min_interval_s": 0.2, "heartbeat_s": 0.05, "retry_ms": 1500, "max_per_user": 2, "max_per_process": 3,
    "stall_s": 0.2,
}  # fmt: skip


async def hub_on(market, **limits):  # noqa: F811
    holdings = InMemoryHoldingsRepository()
    holdings.add_user(7, Holding(instrument_id=1, quantity=Decimal("10"), average_cost=Decimal("150")))
    holdings.add_user(8)
    book = QuoteBook(market, "USD")
    await book.refresh()
    service = PortfolioService(holdings, book.current, metrics=NullMetrics())
    hub = PortfolioStreams(service, JsonPortfolioWire(), StreamLimits(**{**LIMITS, **limits}))
    book.on_change(hub.quotes_changed)
    return hub, book, holdings


def event_of(frame: bytes) -> tuple[str, dict]:
    lines = dict(line.split(": ", 1) for line in frame.decode().strip().split("\n"))
    return lines["id"], msgspec.json.decode(lines["data"])


async def next_frame(subscriber: Subscriber, timeout: float = 1.0) -> bytes | None:
    return await asyncio.wait_for(subscriber.next(), timeout)


def test_a_reader_that_does_not_read_holds_one_frame_the_latest():
    subscriber = Subscriber(7)
    frames = [b"event: portfolio\ndata: %d\n\n" % i for i in range(10_000)]
    for frame in frames:
        subscriber.offer(frame)
    subscriber.offer(HEARTBEAT)  # never displaces an event
    assert subscriber.dropped == 9_999
    assert subscriber._pending is frames[-1]


async def test_the_first_event_is_the_valued_portfolio_and_a_resume_at_it_skips_it(market):  # noqa: F811
    hub, _, _ = await hub_on(market)
    first = await hub.open(7)
    event_id, data = event_of(await next_frame(first))
    assert event_id.startswith("1.")
    assert Decimal(str(data["total_market_value"])) == Decimal("2000.00")
    resumed = await hub.open(7, last_event_id=event_id)
    assert resumed._pending is None  # the client has this state already
    stale = await hub.open(8, last_event_id=event_id)
    assert stale._pending is not None


async def test_quote_moves_are_coalesced_and_only_held_instruments_send(market):  # noqa: F811
    hub, book, _ = await hub_on(market)
    runner = asyncio.create_task(hub.run())
    try:
        holder, other = await hub.open(7), await hub.open(8)
        await next_frame(holder), await next_frame(other)
        market.publish(quote(2, "101"))  # not held by either
        await book.refresh()
        await asyncio.sleep(0.05)
        assert holder._pending is None
        assert other._pending is None
        for price in ("201", "202", "203"):  # three versions inside one interval
            market.publish(quote(1, price))
            await book.refresh()
        event_id, data = event_of(await next_frame(holder))
        assert event_id.startswith("5.")  # the last of them
        assert Decimal(str(data["total_market_value"])) == Decimal("2030.00")
        with pytest.raises(TimeoutError):
            await next_frame(holder, 0.3)  # nothing more: all three came as one event
    finally:
        runner.cancel()


async def test_a_change_of_holdings_is_sent_at_once(market):  # noqa: F811
    hub, _, holdings = await hub_on(market, min_interval_s=60)
    runner = asyncio.create_task(hub.run())
    try:
        subscriber = await hub.open(8)
        await next_frame(subscriber)
        holdings.add_user(8, Holding(instrument_id=1, quantity=Decimal("1"), average_cost=Decimal("190")))
        hub.apply(HoldingsChanged(user_id=8))
        _, data = event_of(await next_frame(subscriber, 0.5))
        assert Decimal(str(data["total_market_value"])) == Decimal("200.00")
    finally:
        runner.cancel()


async def test_caps_per_user_and_per_process(market):  # noqa: F811
    hub, _, _ = await hub_on(market)
    await hub.open(7), await hub.open(7)
    with pytest.raises(TooManyStreamsError, match="per user"):
        await hub.open(7)
    await hub.open(8)
    with pytest.raises(TooManyStreamsError, match="instance"):
        await hub.open(8)


async def test_drain_ends_every_stream_with_a_retry_and_refuses_new_ones(market):  # noqa: F811
    hub, _, _ = await hub_on(market)
    subscriber = await hub.open(7)
    hub.drain()
    assert await next_frame(subscriber) == b"retry: 1500\n\n"  # the untaken event gives way to it
    assert await next_frame(subscriber) is None
    with pytest.raises(StreamsDrainingError):
        await hub.open(8)


async def test_heartbeats_reach_idle_streams_and_a_stalled_stream_is_ended(market):  # noqa: F811
    hub, _, _ = await hub_on(market)
    beats = asyncio.create_task(hub.heartbeats())

    async def stuck_writer() -> None:
        await hub.open(8)  # takes nothing, as a handler whose writes never complete
        await asyncio.sleep(60)

    try:
        reader = await hub.open(7)
        await next_frame(reader)
        assert await next_frame(reader) == HEARTBEAT
        stuck = asyncio.create_task(stuck_writer())
        await asyncio.wait({stuck}, timeout=2)
        assert stuck.cancelled()
        assert hub.open_streams == 1
    finally:
        beats.cancel()


async def test_after_invalidations_were_lost_every_user_is_read_afresh(market):  # noqa: F811
    hub, _, holdings = await hub_on(market, min_interval_s=60)
    runner = asyncio.create_task(hub.run())
    try:
        seven, eight = await hub.open(7), await hub.open(8)
        await next_frame(seven), await next_frame(eight)
        holdings.add_user(8, Holding(instrument_id=1, quantity=Decimal("2"), average_cost=Decimal("190")))
        hub.lost()  # the change to user 8 was never announced
        _, data = event_of(await next_frame(eight, 0.5))
        assert Decimal(str(data["total_market_value"])) == Decimal("400.00")
        with pytest.raises(TimeoutError):
            await next_frame(seven, 0.2)  # user 7's holdings are unchanged: nothing to send
    finally:
        runner.cancel()


class SlowHoldings(InMemoryHoldingsRepository):
    """Reads that take `delay_s` each (a database under load), counted."""

    def __init__(self) -> None:
        super().__init__()
        self.delay_s = 0.0
        self.reads = 0

    async def get(self, user_id: int) -> Holdings | None:
        await asyncio.sleep(self.delay_s)
        self.reads += 1
        return await super().get(user_id)


async def test_after_a_loss_a_quote_move_is_sent_before_every_user_is_read_again(market):  # noqa: F811
    users = 1_000
    holdings = SlowHoldings()
    for user_id in range(1, users + 1):
        holdings.add_user(user_id, Holding(instrument_id=1, quantity=Decimal("1"), average_cost=Decimal("150")))
    book = QuoteBook(market, "USD")
    await book.refresh()
    service = PortfolioService(holdings, book.current, metrics=NullMetrics())
    limits = {**LIMITS, "max_per_process": users, "min_interval_s": 0.01}
    hub = PortfolioStreams(service, JsonPortfolioWire(), StreamLimits(**limits))
    book.on_change(hub.quotes_changed)
    subscribers = [await hub.open(user_id) for user_id in range(1, users + 1)]
    for subscriber in subscribers:
        await next_frame(subscriber)
    runner = asyncio.create_task(hub.run())
    try:
        holdings.delay_s, holdings.reads = 0.01, 0  # 16 reads at a time: about 0.6 s to read everyone again
        hub.lost()
        market.publish(quote(1, "201"))
        await book.refresh()
        _, data = event_of(await next_frame(subscribers[-1], 2.0))
        assert Decimal(str(data["total_market_value"])) == Decimal("201.00")
        assert holdings.reads < users  # the quote's event did not wait for every user to be read again
        await asyncio.sleep(1.5)
        assert holdings.reads >= users  # and everyone was read again after all
    finally:
        runner.cancel()
