"""A development quote feed: every tick moves a random subset of prices a small random step."""

import asyncio
import logging
import math
import random
from decimal import Decimal

from domain.models.audit import Actor
from domain.models.quotes import Quote, QuoteUpdate
from domain.services.market_data import MarketDataService

log = logging.getLogger("folio.simulator")


def _tick_size(price: Decimal) -> Decimal:
    # About five significant digits, between 2 and 8 decimals, as the demo data quotes them.
    decimals = max(2, min(8, 4 - price.adjusted()))
    return Decimal(1).scaleb(-decimals)


def step_price(price: Decimal, rng: random.Random, volatility: float) -> Decimal:
    """One step of a geometric random walk, rounded to the instrument's tick; never zero or below."""
    moved = (price * Decimal(math.exp(rng.gauss(0.0, volatility)))).quantize(_tick_size(price))
    return moved if moved > 0 else price


def spread_around(quote: Quote, price: Decimal) -> tuple[Decimal, Decimal]:
    """The quote's relative spread around `price`, to the price's own decimals, with bid <= price <= ask.

    A feed quotes bid and ask on the tick, as the price: leaving them to the ingest's default would
    give them eight decimals of rounding noise (5568.64058626), which no feed sends and which costs
    the compressed market data about two points of its size.
    """
    bid = min((price * quote.bid / quote.price).quantize(price), price)
    ask = max((price * quote.ask / quote.price).quantize(price), price)
    return (bid if bid > 0 else price), ask


SIMULATOR = Actor(name="system:simulator")


class QuoteSimulator:
    """Drives the same ingest use case as the operator endpoint, so every process sees the moves."""

    def __init__(
        self, market_data: MarketDataService, *, rng: random.Random, fraction: float = 0.1, volatility: float = 0.002
    ) -> None:
        self._market_data = market_data
        self._rng = rng
        self._fraction = fraction
        self._volatility = volatility

    def next_batch(self) -> list[QuoteUpdate]:
        """New quotes for a random subset of the non-cash instruments (cash prices are FX rates: kept)."""
        snapshot = self._market_data.book.current()
        movable: list[tuple[str, Quote]] = [
            (snapshot.instruments[i].symbol, q)
            for i, q in snapshot.quotes.items()
            if snapshot.instruments[i].asset_class != "cash"
        ]
        count = min(len(movable), max(1, round(len(movable) * self._fraction)))
        batch = []
        for symbol, quote in self._rng.sample(movable, count):
            price = step_price(quote.price, self._rng, self._volatility)
            bid, ask = spread_around(quote, price)
            volume = quote.volume + self._rng.randint(0, 5_000)
            batch.append(QuoteUpdate(symbol=symbol, price=price, bid=bid, ask=ask, volume=volume))
        return batch

    async def tick(self) -> int | None:
        """Publish one batch; the new version, or None when there is nothing to move yet."""
        if not self._market_data.book.current().quotes:
            await self._market_data.book.refresh()
        batch = self.next_batch()
        return await self._market_data.ingest(batch, actor=SIMULATOR) if batch else None

    async def run(self, interval_s: float, ticks: int | None = None) -> None:
        done = 0
        while ticks is None or done < ticks:
            version = await self.tick()
            done += 1
            if done == 1 or done % 30 == 0:
                log.info("simulator: published quote version %s (tick %d)", version, done)
            await asyncio.sleep(interval_s)
