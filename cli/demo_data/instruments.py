"""Reference data and the instrument universe: names, exchanges, currencies, volatilities."""

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from cli.demo_data.reference import (
    _BOND_KINDS,
    _BOND_MARKETS,
    _CRYPTO_KINDS,
    _CRYPTO_MAJORS,
    _CURRENCIES,
    _CURRENCY_NAMES,
    _EQUITY_VENUES,
    _ETF_ISSUERS,
    _ETF_REGIONS,
    _ETF_SHARE_CLASSES,
    _ETF_THEMES,
    _ETF_VENUES,
    _EUR_SOVEREIGNS,
    _NAME_PREFIXES,
    _NAME_STEMS,
    _QUALIFIERS,
    _SECTORS,
    _SHARE_CLASSES,
    _UPPER,
    _VOLATILITY,
)
from cli.demo_data.shape import ASSET_CLASS_COUNTS

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
