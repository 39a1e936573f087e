"""Deterministic demo data: users, instruments, a year of daily closes, quotes and holdings.

Everything is drawn from ``random.Random`` streams derived from one seed, and every date is anchored
to a fixed trading calendar (not to today), so the same seed gives the same rows byte for byte.
The whole load is one transaction of COPYs under a transaction-level advisory lock: a failed load
leaves nothing behind, a second run (or a concurrent one) finds the users and skips.

Conventions worth knowing when reading the data:

* Quotes and daily closes are in the instrument's own currency.
* A ``cash`` instrument (``CASH-EUR``...) represents holding that currency: its ``currency`` is
  USD and its price is the USD value of one unit (the FX rate); ``CASH-USD`` is always 1.
* Bond prices are per 100 of face value; bond quantities are in units of that price.
"""

import datetime as dt
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import msgspec
import psycopg
from psycopg.copy import QueuedLibpqWriter

DEFAULT_SEED: Final = 20240101
USER_COUNT: Final = 10_000
TRADING_DAYS: Final = 252
#: The last trading day of the demo calendar, and the moment the latest quotes are "as of".
LAST_TRADING_DAY: Final = dt.date(2026, 10, 30)
QUOTES_AS_OF: Final = dt.datetime(2026, 10, 30, 20, 0, tzinfo=dt.UTC)
MIN_HOLDINGS: Final = 5
MAX_HOLDINGS: Final = 30
ASSET_CLASS_COUNTS: Final[dict[str, int]] = {"equity": 3000, "etf": 1000, "bond": 700, "crypto": 280, "cash": 20}
INSTRUMENT_COUNT: Final = sum(ASSET_CLASS_COUNTS.values())

# Any constant will do as long as every loader agrees; this one spells "FOLIODEM".
_ADVISORY_LOCK_KEY: Final = 0x464F4C494F44454D
_COPY_CHUNK_ROWS: Final = 20_000
_AS_OF_TEXT: Final = "2026-10-30 20:00:00+00"


class DemoDataResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ``load_demo_data`` did: ``loaded`` False means it found data and touched nothing."""

    loaded: bool
    seed: int
    users: int = 0
    instruments: int = 0
    quotes: int = 0
    daily_prices: int = 0
    holdings: int = 0
    elapsed_s: float = 0.0
    reason: str = ""


def demo_user_ids() -> range:
    """The ids of the demo users (1..10000)."""
    return range(1, USER_COUNT + 1)


def trading_days() -> list[dt.date]:
    """The demo calendar: the 252 weekdays ending on ``LAST_TRADING_DAY``, oldest first."""
    days: list[dt.date] = []
    day = LAST_TRADING_DAY
    while len(days) < TRADING_DAYS:
        if day.weekday() < 5:
            days.append(day)
        day -= dt.timedelta(days=1)
    days.reverse()
    return days


# --------------------------------------------------------------------------------------------
# Reference data (hand-written, small).


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST_NAMES: Final = _words(
    "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony Sandra Mark Ashley Paul "
    "Emily Steven Donna Andrew Michelle Joshua Carol Kevin Amanda Brian Melissa George Deborah Timothy "
    "Stephanie Ronald Rebecca Jason Laura Edward Helen Jeffrey Sharon Ryan Cynthia Jacob Kathleen Gary Amy "
    "Nicholas Angela Eric Shirley Jonathan Anna Larry Ruth Justin Brenda Scott Pamela Frank Nicole Benjamin "
    "Katherine Samuel Samantha Gregory Christine Alexander Emma Patrick Catherine Raymond Debra Jack Rachel "
    "Dennis Carolyn Jerry Janet Tyler Maria Aaron Olivia Jose Heather Adam Diane Nathan Julie Henry Joyce "
    "Zachary Victoria Douglas Kelly Peter Christina Kyle Lauren Noah Joan Ethan Evelyn Jeremy Judith "
    "Hiroshi Yuki Sofia Lukas Amelie Mateo Lucia Liam Chloe Oliver Freya Aarav Priya Wei Mei Omar Fatima "
    "Lars Ingrid Pierre Camille Giulia Marco Sven Astrid Kenji Aiko Rafael Ines Tomasz Zofia Arjun Ananya"
)
_LAST_NAMES: Final = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz "
    "Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson "
    "Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Muller Schmidt "
    "Schneider Fischer Weber Dubois Laurent Moreau Rossi Russo Ferrari Tanaka Suzuki Takahashi Watanabe "
    "Yamamoto Andersson Johansson Nilsson Kowalski Nowak Singh Sharma Chen Wang Zhang Liu Novak Jansen"
)

_NAME_PREFIXES: Final = _words(
    "North South East West Blue Red Green Silver Gold Iron Stone River Lake Ocean Summit Apex Pioneer "
    "Meridian Crescent Harbor Granite Cedar Maple Oak Pine Willow Falcon Eagle Hawk Orion Atlas Vertex "
    "Quantum Nova Stellar Solar Lunar Polar Alpine Coastal Prairie Canyon Crystal Bright Clear Swift Noble "
    "Royal Sterling Liberty Union Frontier Heritage Keystone Beacon Horizon Evergreen Redwood Aspen Sierra"
)
_NAME_STEMS: Final = _words(
    "wind ridge stone field brook gate point bridge view crest wood haven port line works star light "
    "wave peak vale mark forge path core sphere"
)
_SECTORS: Final = (
    "Technologies",
    "Systems",
    "Pharmaceuticals",
    "Biosciences",
    "Energy",
    "Resources",
    "Financial Group",
    "Bancorp",
    "Insurance",
    "Industries",
    "Logistics",
    "Holdings",
    "Semiconductor",
    "Software",
    "Networks",
    "Retail",
    "Foods",
    "Brands",
    "Motors",
    "Aerospace",
    "Materials",
    "Chemicals",
    "Utilities",
    "Properties",
    "Healthcare",
    "Communications",
    "Media",
    "Capital",
    "Mining",
    "Therapeutics",
    "Robotics",
    "Airlines",
)

# (exchange, currency, symbol suffix, legal suffix, weight)
_EQUITY_VENUES: Final = (
    ("NYSE", "USD", "", "Inc.", 30),
    ("NASDAQ", "USD", "", "Inc.", 30),
    ("LSE", "GBP", ".L", "plc", 8),
    ("XETRA", "EUR", ".DE", "AG", 7),
    ("EURONEXT", "EUR", ".PA", "S.A.", 6),
    ("SIX", "CHF", ".SW", "AG", 3),
    ("TSE", "JPY", ".T", "Co., Ltd.", 8),
    ("TSX", "CAD", ".TO", "Corp.", 4),
    ("ASX", "AUD", ".AX", "Ltd.", 4),
)
_ETF_VENUES: Final = (
    ("NYSEARCA", "USD", "", "ETF", 55),
    ("NASDAQ", "USD", "", "ETF", 10),
    ("LSE", "GBP", ".L", "UCITS ETF", 12),
    ("XETRA", "EUR", ".DE", "UCITS ETF", 10),
    ("SIX", "CHF", ".SW", "UCITS ETF", 3),
    ("TSE", "JPY", ".T", "ETF", 4),
    ("TSX", "CAD", ".TO", "ETF", 3),
    ("ASX", "AUD", ".AX", "ETF", 3),
)
_ETF_ISSUERS: Final = (
    "Vantage",
    "Ishara",
    "Stateline",
    "Harbor Point",
    "Bluewater",
    "Summit Street",
    "Keystone",
    "Northstar",
    "Granite Shares",
    "Invesco Ridge",
    "First Meridian",
    "Global Atlas",
)
_ETF_REGIONS: Final = (
    "US",
    "World",
    "Europe",
    "Emerging Markets",
    "Japan",
    "Asia Pacific",
    "Developed Markets",
    "Global",
    "UK",
    "Canada",
    "Australia",
    "Eurozone",
    "China",
    "India",
)
_ETF_THEMES: Final = (
    "Total Market",
    "Large-Cap",
    "Mid-Cap",
    "Small-Cap Value",
    "Dividend Growth",
    "Quality Factor",
    "Momentum",
    "Low Volatility",
    "Clean Energy",
    "Semiconductors",
    "Healthcare Innovation",
    "Cybersecurity",
    "Aggregate Bond",
    "Short Treasury",
    "Inflation-Linked Bond",
    "High Yield Corporate Bond",
    "Real Estate",
    "Infrastructure",
    "Equal Weight",
    "ESG Leaders",
)
# (currency, ISIN country codes, issuer label, weight)
_BOND_MARKETS: Final = (
    ("USD", ("US",), "US Treasury", 50),
    ("EUR", ("DE", "FR", "NL", "IT", "ES"), "Bund", 20),
    ("GBP", ("GB",), "UK Gilt", 10),
    ("JPY", ("JP",), "JGB", 8),
    ("CHF", ("CH",), "Swiss Confederation", 4),
    ("CAD", ("CA",), "Canada", 4),
    ("AUD", ("AU",), "Australia", 4),
)
_EUR_SOVEREIGNS: Final = {"DE": "Bund", "FR": "OAT", "NL": "DSL", "IT": "BTP", "ES": "Bono"}
_CRYPTO_MAJORS: Final = (
    ("BTC", "Bitcoin", 68000.0),
    ("ETH", "Ethereum", 3400.0),
    ("SOL", "Solana", 160.0),
    ("XRP", "XRP", 0.55),
    ("ADA", "Cardano", 0.45),
    ("DOGE", "Dogecoin", 0.15),
    ("DOT", "Polkadot", 6.5),
    ("LTC", "Litecoin", 80.0),
    ("AVAX", "Avalanche", 30.0),
    ("LINK", "Chainlink", 15.0),
    ("ATOM", "Cosmos", 8.0),
    ("XLM", "Stellar", 0.11),
)
# How listing feeds describe the security, which makes real instrument names long.
_SHARE_CLASSES: Final[dict[str, tuple[str, ...]]] = {
    "NYSE": ("Common Stock", "Class A Common Stock", "Class B Common Stock", "American Depositary Shares"),
    "NASDAQ": ("Common Stock", "Class A Common Stock", "Class C Capital Stock", "American Depositary Shares"),
    "LSE": ("Ordinary Shares", "Ordinary Shares 10p"),
    "XETRA": ("Registered Shares", "Bearer Shares", "Preference Shares"),
    "EURONEXT": ("Ordinary Shares", "Bearer Shares"),
    "SIX": ("Registered Shares", "Bearer Shares"),
    "TSE": ("Common Stock", "Ordinary Shares"),
    "TSX": ("Common Shares", "Subordinate Voting Shares", "Class A Shares"),
    "ASX": ("Fully Paid Ordinary Shares", "Ordinary Shares"),
}
_QUALIFIERS: Final = ("Global", "International", "Advanced", "Integrated", "United", "Consolidated", "Applied")
_ETF_SHARE_CLASSES: Final = ("Index Fund Shares", "Index Fund (Acc)", "Index Fund (Dist)", "Portfolio Shares")
_BOND_KINDS: Final = ("Senior Unsecured Notes", "Senior Notes", "Fixed Rate Bonds", "Medium-Term Notes")
_CRYPTO_KINDS: Final = ("Coin", "Token", "Protocol", "Network", "Chain", "Finance", "Swap", "DAO")
# (code, name, USD per unit at the start of the calendar)
_CURRENCIES: Final = (
    ("USD", "US Dollar", 1.0),
    ("EUR", "Euro", 1.08),
    ("GBP", "British Pound", 1.27),
    ("JPY", "Japanese Yen", 0.0067),
    ("CHF", "Swiss Franc", 1.12),
    ("CAD", "Canadian Dollar", 0.73),
    ("AUD", "Australian Dollar", 0.66),
    ("NZD", "New Zealand Dollar", 0.61),
    ("SEK", "Swedish Krona", 0.095),
    ("NOK", "Norwegian Krone", 0.093),
    ("DKK", "Danish Krone", 0.145),
    ("HKD", "Hong Kong Dollar", 0.128),
    ("SGD", "Singapore Dollar", 0.74),
    ("CNY", "Chinese Yuan", 0.138),
    ("INR", "Indian Rupee", 0.012),
    ("KRW", "South Korean Won", 0.00073),
    ("MXN", "Mexican Peso", 0.055),
    ("BRL", "Brazilian Real", 0.19),
    ("ZAR", "South African Rand", 0.054),
    ("PLN", "Polish Zloty", 0.25),
)
_CURRENCY_NAMES: Final = {code: name for code, name, _rate in _CURRENCIES}

# Per asset class: (daily volatility range, bid/ask half-spread as a fraction of price).
_VOLATILITY: Final[dict[str, tuple[float, float]]] = {
    "equity": (0.010, 0.030),
    "etf": (0.006, 0.014),
    "bond": (0.002, 0.005),
    "crypto": (0.030, 0.060),
    "cash": (0.003, 0.007),
}
_HALF_SPREAD: Final[dict[str, float]] = {
    "equity": 0.0004,
    "etf": 0.0002,
    "bond": 0.0008,
    "crypto": 0.0010,
    "cash": 0.00005,
}
# Relative weight of each asset class in users' holdings (cash is drawn separately).
_POPULARITY: Final[dict[str, float]] = {"equity": 1.0, "etf": 1.6, "bond": 0.35, "crypto": 0.5}
_UPPER: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


_Row = TypeVar("_Row", bound=tuple[Any, ...])


@dataclass(slots=True)
class _Instrument:
    id: int
    symbol: str
    name: str
    asset_class: str
    currency: str
    exchange: str
    start_price: float
    volatility: float
    decimals: int


def _weighted(rng: random.Random, rows: Sequence[_Row]) -> _Row:
    """One of ``rows``, drawn with the weights in their last fields."""
    return rng.choices(rows, weights=[row[-1] for row in rows])[0]


def _decimals_for(asset_class: str, price: float, currency: str) -> int:
    """How many decimals prices of this instrument are quoted with."""
    if asset_class == "cash":
        return 8 if price < 0.01 else 6
    if asset_class == "crypto":
        return max(2, min(8, 5 - math.floor(math.log10(price))))
    if currency == "JPY":
        return 0 if asset_class != "bond" else 3
    return 3 if asset_class == "bond" else 2


class _Builder:
    """Draws instruments with unique symbols and company names from one random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.instruments: list[_Instrument] = []
        self.symbols: set[str] = set()
        self.cores: set[str] = set()

    def claim(self, symbol: str) -> bool:
        if symbol in self.symbols:
            return False
        self.symbols.add(symbol)
        return True

    def ticker(self, low: int, high: int, suffix: str) -> str:
        rng = self.rng
        while not self.claim(symbol := "".join(rng.choices(_UPPER, k=rng.randint(low, high))) + suffix):
            pass
        return symbol

    def tse_code(self, low: int, high: int) -> str:
        while not self.claim(symbol := f"{self.rng.randint(low, high)}.T"):
            pass
        return symbol

    def isin(self, country: str) -> str:
        rng = self.rng
        while not self.claim(symbol := country + "".join(rng.choices(_ALNUM, k=9)) + str(rng.randint(0, 9))):
            pass
        return symbol

    def company_core(self) -> str:
        rng = self.rng
        while True:
            core = rng.choice(_NAME_PREFIXES) + rng.choice(_NAME_STEMS)
            if rng.random() < 0.7:
                core = f"{core} {rng.choice(_NAME_PREFIXES)}"
            if core not in self.cores:
                self.cores.add(core)
                return core

    def add(self, symbol: str, name: str, asset_class: str, currency: str, exchange: str, price: float) -> None:
        low, high = _VOLATILITY[asset_class]
        self.instruments.append(
            _Instrument(
                id=len(self.instruments) + 1,
                symbol=symbol,
                name=name,
                asset_class=asset_class,
                currency=currency,
                exchange=exchange,
                start_price=price,
                volatility=self.rng.uniform(low, high),
                decimals=_decimals_for(asset_class, price, currency),
            )
        )

    def equities(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            exchange, currency, suffix, legal, _weight = _weighted(rng, _EQUITY_VENUES)
            qualifier = f"{rng.choice(_QUALIFIERS)} " if rng.random() < 0.5 else ""
            share_class = rng.choice(_SHARE_CLASSES[exchange])
            name = f"{self.company_core()} {qualifier}{rng.choice(_SECTORS)} {legal} {share_class}"
            if currency == "JPY":
                symbol, price = self.tse_code(1300, 9999), rng.lognormvariate(math.log(2500), 0.8)
            else:
                symbol, price = self.ticker(2, 4, suffix), rng.lognormvariate(math.log(60), 0.9)
            self.add(symbol, name, "equity", currency, exchange, price)

    def etfs(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            exchange, currency, suffix, kind, _weight = _weighted(rng, _ETF_VENUES)
            name = (
                f"{rng.choice(_ETF_ISSUERS)} {rng.choice(_ETF_REGIONS)} {rng.choice(_ETF_THEMES)}"
                f" {rng.choice(_ETF_SHARE_CLASSES)} {kind}"
            )
            if currency == "JPY":
                symbol, price = self.tse_code(1300, 2999), rng.lognormvariate(math.log(3000), 0.6)
            else:
                symbol, price = self.ticker(3, 4, suffix), rng.lognormvariate(math.log(80), 0.6)
            self.add(symbol, name, "etf", currency, exchange, price)

    def bonds(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            currency, countries, label, _weight = _weighted(rng, _BOND_MARKETS)
            country = rng.choice(countries)
            coupon = rng.randint(0, 44) * 0.125
            maturity = dt.date(2027 + rng.randint(0, 28), rng.randint(1, 12), rng.choice((1, 15)))
            if rng.random() < 0.5:  # sovereign
                issuer = _EUR_SOVEREIGNS.get(country, label)
            else:
                issuer = f"{self.company_core()} {rng.choice(_SECTORS)}"
            name = f"{issuer} {coupon:.3f}% {rng.choice(_BOND_KINDS)} due {maturity.isoformat()}"
            self.add(self.isin(country), name, "bond", currency, "OTC", rng.uniform(86.0, 112.0))

    def cryptos(self, count: int) -> None:
        rng = self.rng
        pairs: list[tuple[str, str, str, float]] = []
        for code, coin, price in _CRYPTO_MAJORS:
            pairs.append((code, coin, "USD", price))
            pairs.append((code, coin, "EUR", price / 1.08))
        while len(pairs) < count:
            code = "".join(rng.choices(_UPPER, k=rng.randint(3, 5)))
            coin = f"{code.capitalize()}{rng.choice(_NAME_STEMS)} {rng.choice(_CRYPTO_KINDS)}"
            quote = "USD" if rng.random() < 0.85 else rng.choice(("EUR", "GBP", "JPY"))
            price = math.exp(rng.uniform(math.log(0.002), math.log(400.0))) * (150.0 if quote == "JPY" else 1.0)
            if all(f"{code}-{quote}" != f"{c}-{q}" for c, _n, q, _p in pairs):
                pairs.append((code, coin, quote, price))
        for code, coin, quote, price in pairs[:count]:
            symbol = f"{code}-{quote}"
            if not self.claim(symbol):
                raise AssertionError(f"duplicate crypto symbol {symbol}")
            self.add(symbol, f"{coin} / {_CURRENCY_NAMES[quote]}", "crypto", quote, "CRYPTO", price)

    def cash(self, count: int) -> None:
        for code, ccy_name, usd_per_unit in _CURRENCIES[:count]:
            if not self.claim(symbol := f"CASH-{code}"):
                raise AssertionError(f"duplicate cash symbol {symbol}")
            self.add(symbol, f"{ccy_name} Cash Balance", "cash", "USD", "FX", usd_per_unit)
            if code == "USD":
                self.instruments[-1].volatility = 0.0


def _build_instruments(seed: int) -> list[_Instrument]:
    builder = _Builder(random.Random(f"{seed}:instruments"))
    builder.equities(ASSET_CLASS_COUNTS["equity"])
    builder.etfs(ASSET_CLASS_COUNTS["etf"])
    builder.bonds(ASSET_CLASS_COUNTS["bond"])
    builder.cryptos(ASSET_CLASS_COUNTS["crypto"])
    builder.cash(ASSET_CLASS_COUNTS["cash"])
    return builder.instruments


# --------------------------------------------------------------------------------------------
# Row generation: each function yields COPY text blocks.


def _copy_text(value: str) -> str:
    """Escape a value for COPY ... FROM STDIN text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


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
        lines.append(f"{user_id}\tuser{user_id}@example.com\t{name}\t{created:%Y-%m-%d %H:%M:%S}+00\n")
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


def _holding_blocks(seed: int, instruments: Sequence[_Instrument], closes: Sequence[list[float]]) -> Iterable[str]:
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


# --------------------------------------------------------------------------------------------
# Loading.


def _copy(cursor: psycopg.Cursor[tuple[object, ...]], statement: str, blocks: Iterable[str]) -> None:
    with cursor.copy(statement.encode(), writer=QueuedLibpqWriter(cursor)) as copy:
        for block in blocks:
            copy.write(block)


class _Deferred(msgspec.Struct, frozen=True):
    """A constraint or index dropped for the bulk load, with the DDL that re-creates it."""

    drop: str
    create: str


def _defer_constraints(cursor: psycopg.Cursor[tuple[object, ...]], tables: Sequence[str]) -> list[_Deferred]:
    """Drop the primary keys, secondary indexes and foreign keys of ``tables`` for the load.

    Building an index once from sorted data and checking references once per constraint is several
    times faster than maintaining them row by row. It all happens inside the load's transaction (which
    holds the tables' ACCESS EXCLUSIVE locks), so no one ever sees a table without its constraints.
    The definitions come from the catalog, so this follows the migrations without repeating them.
    """
    cursor.execute(
        "SELECT c.contype::text, c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid)"
        " FROM pg_constraint c WHERE c.contype IN ('p', 'f') AND c.conrelid = ANY (%s::regclass[])",
        (list(tables),),
    )
    constraints = sorted(
        (str(kind), str(table), str(name), str(definition)) for kind, table, name, definition in cursor.fetchall()
    )
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = ANY (%s::regclass[])"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)"
        " ORDER BY 1",
        (list(tables),),
    )
    indexes = [(str(name), str(definition)) for name, definition in cursor.fetchall()]
    deferred = [  # re-created in this order: primary keys, then indexes, then foreign keys
        *(
            _Deferred(f'ALTER TABLE "{t}" DROP CONSTRAINT "{n}"', f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}')
            for kind, t, n, d in constraints
            if kind == "p"
        ),
        *(_Deferred(f'DROP INDEX "{n}"', d) for n, d in indexes),
        *(
            _Deferred(f'ALTER TABLE "{t}" DROP CONSTRAINT "{n}"', f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}')
            for kind, t, n, d in constraints
            if kind == "f"
        ),
    ]
    for item in reversed(deferred):
        cursor.execute(item.drop.encode())
    return deferred


def _restore_constraints(cursor: psycopg.Cursor[tuple[object, ...]], deferred: Sequence[_Deferred]) -> None:
    for item in deferred:
        cursor.execute(item.create.encode())


def _skip_reason(cursor: psycopg.Cursor[tuple[object, ...]]) -> str:
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM users), EXISTS (SELECT 1 FROM instruments), EXISTS (SELECT 1 FROM holdings)"
    )
    row = cursor.fetchone()
    if row is None:  # pragma: no cover - a SELECT of three expressions returns one row
        return "unreadable"
    has_users, has_instruments, has_holdings = row
    if has_users:
        return "users already present"
    if has_instruments or has_holdings:
        return "instruments already present"
    return ""


def load_demo_data(database_url: str, *, seed: int = DEFAULT_SEED) -> DemoDataResult:
    """Load the demo data set in one transaction, or skip if the database already has users.

    Two concurrent calls serialise on a transaction-level advisory lock; the second finds the first's
    users and skips. Any failure rolls the whole load back.
    """
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=False) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
        reason = _skip_reason(cursor)
        if reason:
            conn.rollback()
            return DemoDataResult(
                loaded=False, seed=seed, reason=reason, elapsed_s=round(time.perf_counter() - started, 3)
            )
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        deferred = _defer_constraints(cursor, ("daily_prices", "quotes", "holdings"))
        instruments = _build_instruments(seed)
        closes: list[list[float]] = []
        _copy(cursor, "COPY users (id, email, name, created_at) FROM STDIN", _user_blocks(seed))
        _copy(
            cursor,
            "COPY instruments (id, symbol, name, asset_class, currency, exchange) FROM STDIN",
            _instrument_blocks(instruments),
        )
        _copy(
            cursor,
            "COPY daily_prices (instrument_id, day, close) FROM STDIN",
            _daily_price_blocks(seed, instruments, closes),
        )
        _copy(
            cursor,
            "COPY quotes (instrument_id, price, bid, ask, previous_close, day_high, day_low, volume, as_of) FROM STDIN",
            _quote_blocks(seed, instruments, closes),
        )
        _copy(
            cursor,
            "COPY holdings (user_id, instrument_id, quantity, average_cost, realized_pnl, updated_at) FROM STDIN",
            _holding_blocks(seed, instruments, closes),
        )
        _restore_constraints(cursor, deferred)
        cursor.execute(
            "INSERT INTO quote_versions (quotes, published_at) VALUES (%s, %s)", (len(instruments), QUOTES_AS_OF)
        )
        cursor.execute("SELECT count(*) FROM holdings")
        holdings_row = cursor.fetchone()
        holdings = int(str(holdings_row[0])) if holdings_row else 0
        conn.commit()
    return DemoDataResult(
        loaded=True,
        seed=seed,
        users=USER_COUNT,
        instruments=len(instruments),
        quotes=len(instruments),
        daily_prices=len(instruments) * TRADING_DAYS,
        holdings=holdings,
        elapsed_s=round(time.perf_counter() - started, 3),
    )
