"""Row generation: each function yields COPY text blocks, deterministic for a seed."""

import datetime as dt
import math
import random
from collections.abc import Iterable, Sequence

from cli.demo_data.instruments import _Instrument
from cli.demo_data.reference import _FIRST_NAMES, _HALF_SPREAD, _LAST_NAMES, _POPULARITY, _UPPER
from cli.demo_data.shape import (
    _AS_OF_TEXT,
    _COPY_CHUNK_ROWS,
    MAX_HOLDINGS,
    MIN_HOLDINGS,
    QUOTES_AS_OF,
    TRADING_DAYS,
    demo_user_ids,
    trading_days,
)
from domain.models.quotes import CASH_PREFIX

# --------------------------------------------------------------------------------------------
# Row generation: each function yields COPY text blocks.


def _copy_text(value: str) -> str:
    """Escape a value for COPY ... FROM STDIN text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def demo_external_id(user_id: int) -> str:
    """The demo user's subject at the identity provider (what an OpenID Connect token's `sub` would say)."""
    return f"demo-user-{user_id}"


def _user_blocks(seed: int) -> Iterable[str]:
    rng = random.Random(f"{seed}:users")
    first, last = _FIRST_NAMES, _LAST_NAMES
    base = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
    span = int((QUOTES_AS_OF - base).total_seconds()) - 86_400
    lines = []
    for user_id in demo_user_ids():
        if rng.random() < 0.12:
            name = f"{rng.choice(first)} {rng.choice(_UPPER)}. {rng.choice(last)}"
        else:
            name = f"{rng.choice(first)} {rng.choice(last)}"
        created = base + dt.timedelta(seconds=rng.randrange(span))
        subject = demo_external_id(user_id)
        lines.append(f"{user_id}\tuser{user_id}@example.com\t{name}\t{created:%Y-%m-%d %H:%M:%S}+00\t{subject}\n")
    yield "".join(lines)


def _instrument_blocks(instruments: Sequence[_Instrument]) -> Iterable[str]:
    yield "".join(
        f"{i.id}\t{i.symbol}\t{_copy_text(i.name)}\t{i.asset_class}\t{i.currency}\t{i.exchange}\n" for i in instruments
    )


def _walk(rng: random.Random, instrument: _Instrument) -> list[float]:
    """A geometric random walk of TRADING_DAYS closes, rounded to the instrument's tick."""
    decimals = instrument.decimals
    tick = 10.0**-decimals
    sigma = instrument.volatility
    price = instrument.start_price
    if sigma == 0.0:
        return [round(price, decimals)] * TRADING_DAYS
    drift = rng.gauss(0.0003, 0.0004) - sigma * sigma / 2
    gauss, exp = rng.gauss, math.exp
    closes = []
    for _ in range(TRADING_DAYS):
        price *= exp(drift + sigma * gauss(0.0, 1.0))
        close = round(price, decimals)
        closes.append(close if close >= tick else tick)
    return closes


def _daily_price_blocks(seed: int, instruments: Sequence[_Instrument], closes_out: list[list[float]]) -> Iterable[str]:
    """Yield the daily_prices COPY text; fill ``closes_out`` with each instrument's closes."""
    rng = random.Random(f"{seed}:prices")
    day_texts = [day.isoformat() for day in trading_days()]
    lines: list[str] = []
    for instrument in instruments:
        closes = _walk(rng, instrument)
        closes_out.append(closes)
        row = f"{instrument.id}\t%s\t%.{instrument.decimals}f\n"
        lines.extend([row % pair for pair in zip(day_texts, closes, strict=True)])
        if len(lines) >= _COPY_CHUNK_ROWS:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def _quote_blocks(seed: int, instruments: Sequence[_Instrument], closes: Sequence[list[float]]) -> Iterable[str]:
    rng = random.Random(f"{seed}:quotes")
    lines = []
    for instrument, series in zip(instruments, closes, strict=True):
        decimals = instrument.decimals
        tick = 10.0**-decimals
        fmt = f"%.{decimals}f"
        price, previous = series[-1], series[-2]
        if instrument.volatility == 0.0:
            bid = ask = high = low = price
            volume = 0
        else:
            sigma = instrument.volatility
            day_open = previous * math.exp(sigma * 0.3 * rng.gauss(0.0, 1.0))
            high = max(round(max(day_open, price) * (1 + abs(rng.gauss(0.0, sigma * 0.5))), decimals), price)
            low = min(round(min(day_open, price) * (1 - abs(rng.gauss(0.0, sigma * 0.5))), decimals), price)
            low = max(low, tick)
            half = price * _HALF_SPREAD[instrument.asset_class] * rng.uniform(0.5, 1.5)
            bid = min(round(price - half, decimals), round(price - tick, decimals))
            if bid <= 0:
                bid = price
            ask = max(round(price + half, decimals), round(price + tick, decimals))
            volume = _volume(rng, instrument.asset_class)
        lines.append(
            f"{instrument.id}\t{fmt % price}\t{fmt % bid}\t{fmt % ask}\t{fmt % previous}\t"
            f"{fmt % high}\t{fmt % low}\t{volume}\t{_AS_OF_TEXT}\n"
        )
    yield "".join(lines)


def _volume(rng: random.Random, asset_class: str) -> int:
    if asset_class == "cash":
        return 0
    median = {"equity": 1_500_000.0, "etf": 400_000.0, "bond": 2_000.0, "crypto": 5_000_000.0}[asset_class]
    return int(rng.lognormvariate(math.log(median), 1.2))


def _holding_blocks(
    seed: int,
    instruments: Sequence[_Instrument],
    closes: Sequence[list[float]],
    currency_cash: list[tuple[int, str, str]],
) -> Iterable[str]:
    """Yield the holdings COPY text; fill ``currency_cash`` with each user's (user id, currency, units) of cash.

    A user's currency picks (USD for 70%, another currency for 15%) are cash in that currency, booked in
    the ledger by the opening deposits, never lots: the `cash` instruments are the FX rates' quotes.
    """
    rng = random.Random(f"{seed}:holdings")
    # Zipf-ish popularity: a shuffled rank order, weighted by asset class.
    candidates = [i for i in instruments if i.asset_class != "cash"]
    rng.shuffle(candidates)
    cumulative: list[float] = []
    total = 0.0
    for rank, instrument in enumerate(candidates, start=1):
        total += _POPULARITY[instrument.asset_class] / (rank + 5) ** 0.95
        cumulative.append(total)
    cash = {i.symbol: i for i in instruments if i.asset_class == "cash"}
    usd_cash = cash["CASH-USD"]
    other_cash = [i for symbol, i in cash.items() if symbol != "CASH-USD"]
    choices = rng.choices

    lines = []
    for user_id in demo_user_ids():
        count = rng.randint(MIN_HOLDINGS, MAX_HOLDINGS)
        picked: dict[int, _Instrument] = {}
        if rng.random() < 0.7:
            picked[usd_cash.id] = usd_cash
        if rng.random() < 0.15:
            extra = rng.choice(other_cash)
            picked[extra.id] = extra
        while len(picked) < count:
            for instrument in choices(candidates, cum_weights=cumulative, k=count - len(picked)):
                picked.setdefault(instrument.id, instrument)
        for instrument_id in sorted(picked):
            instrument = picked[instrument_id]
            quantity, cost = _position(rng, instrument, closes[instrument_id - 1])
            if instrument.asset_class == "cash":  # drawn as a position, so the other picks stay as they were
                currency_cash.append((user_id, instrument.symbol.removeprefix(CASH_PREFIX), quantity))
            else:
                lines.append(f"{user_id}\t{instrument_id}\t{quantity}\t{cost}\t0\t{_AS_OF_TEXT}\n")
    yield "".join(lines)


def _position(rng: random.Random, instrument: _Instrument, series: list[float]) -> tuple[str, str]:
    """A (quantity, average_cost) pair as COPY text, worth roughly a few thousand of the currency."""
    asset_class = instrument.asset_class
    decimals = instrument.decimals
    bought_at = series[rng.randrange(TRADING_DAYS - 1)]
    value = rng.lognormvariate(math.log(4000.0), 1.0)
    if asset_class == "cash":
        units = value / bought_at
        step = 10.0 ** max(2, math.floor(math.log10(units)) - 1)
        quantity = f"{max(1, round(units / step)) * step:.0f}"
        return quantity, f"%.{decimals}f" % bought_at
    if instrument.currency == "JPY":
        value *= 150.0
    cost = max(bought_at * (1 + rng.gauss(0.0, instrument.volatility * 2)), 10.0**-decimals)
    cost_text = f"{cost:.{min(decimals + 2, 8)}f}"
    units = value / cost
    if asset_class == "crypto":
        quantity = f"{max(units, 1e-6):.{max(4, min(8, 4 - math.floor(math.log10(units))))}f}"
    elif asset_class == "bond":
        quantity = str(max(1, round(units / 5)) * 5)
    else:
        quantity = str(max(1, round(units)))
    return quantity, cost_text
