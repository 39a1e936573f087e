"""What `make bench` measures: the scenarios, the server each one runs against, and the targets."""

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

LUA_DIR = Path(__file__).resolve().parent / "lua"

Server = Literal["main", "cold", "ceiling", "raw", "ceiling_market_data", "raw_market_data"]


@dataclass(frozen=True)
class Scenario:
    name: str
    script: str  # a file under bench/lua/
    # main: the production configuration; cold: PORTFOLIO_CACHE=false and PERFORMANCE_CACHE=false;
    # ceiling and raw: bench.ceiling's two apps; *_market_data: the same with the market data's gzip size
    server: Server
    what: str
    # Seconds of warm-up at least: "hot" is measured as a long-running process serves, caches full.
    min_warmup: int = 0
    # What each request's Authorization carries: its user's JWT, or its user's API key (scope `read`).
    credential: Literal["token", "key"] = "token"
    # Quotes move while it runs (warm-up included): the quote simulator publishes a new version every second.
    ticking: bool = False

    @property
    def script_path(self) -> Path:
        return LUA_DIR / self.script


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("raw_ceiling", "portfolio_hot.lua", "raw", "raw ASGI app, constant body of the portfolio's size"),
    Scenario("ceiling", "portfolio_hot.lua", "ceiling", "bare Litestar @get, constant body of the portfolio's size"),
    Scenario("portfolio_hot", "portfolio_hot.lua", "main", "GET portfolio, Zipf(1.1) over 10,000 users", 15),
    Scenario(
        "portfolio_hot_key",
        "portfolio_hot.lua",
        "main",
        "GET portfolio as portfolio_hot, each user with its own API key instead of a JWT",
        15,
        credential="key",
    ),
    Scenario("portfolio_cold", "portfolio_cold.lua", "cold", "GET portfolio, uniform users, PORTFOLIO_CACHE=false"),
    Scenario(
        "performance_cold", "performance_cold.lua", "cold", "GET performance 1Y, uniform users, PERFORMANCE_CACHE=false"
    ),
    Scenario(
        "performance_cached", "performance_cached.lua", "main", "GET performance 1Y, Zipf(1.1) over the users", 15
    ),
    Scenario("market_data_gzip", "market_data_gzip.lua", "main", "GET /api/market-data, Accept-Encoding: gzip"),
    Scenario("trades", "trades.lua", "main", "POST trades: buy 1 of 200 equities, uniform users"),
    Scenario("mix", "mix.lua", "main", "80% portfolio, 10% market data, 5% static data, 5% trades"),
    # The report request at the gateway (no worker runs; the rows and messages pile up).
    Scenario("report_enqueue", "report_enqueue.lua", "main", "POST generate-report, closed loop (saturation)"),
    Scenario(
        "report_enqueue_paced",
        "report_enqueue_paced.lua",
        "main",
        "POST generate-report, 64 connections offering 256 req/s",
    ),
    # Last on the main server: the simulator's writes would move the figures of the scenarios after it.
    Scenario(
        "portfolio_ticking",
        "portfolio_hot.lua",
        "main",
        "GET portfolio as portfolio_hot, while 10% of the prices move every second",
        15,
        ticking=True,
    ),
    # The limits of a response of the market data's gzip size (the portfolio's ceilings are for a 20x smaller one).
    Scenario(
        "ceiling_market_data",
        "market_data_gzip.lua",
        "ceiling_market_data",
        "bare Litestar @get, constant body of the market data's gzip size",
    ),
    Scenario(
        "raw_ceiling_market_data",
        "market_data_gzip.lua",
        "raw_market_data",
        "raw ASGI app, constant body of the market data's gzip size",
    ),
)
SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)

# Servers start in this order; the main one first, because the ceilings are sized from its bodies.
SERVER_ORDER: tuple[Server, ...] = ("main", "cold", "ceiling", "raw", "ceiling_market_data", "raw_market_data")
# A scenario whose body is far from the portfolio's is set against ceilings of its own body's size.
_MARKET_DATA_SIZE = ("ceiling_market_data", "raw_ceiling_market_data")
SAME_SIZE_CEILINGS: dict[str, tuple[str, str]] = dict.fromkeys(
    ("market_data_gzip", *_MARKET_DATA_SIZE), _MARKET_DATA_SIZE
)


def select(names: Iterable[str]) -> list[Scenario]:
    """The scenarios named (all when none), in their canonical order; unknown names raise ValueError."""
    wanted = set(names)
    unknown = wanted - set(SCENARIO_NAMES)
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIO_NAMES)}")
    return [s for s in SCENARIOS if not wanted or s.name in wanted]


@dataclass(frozen=True)
class Target:
    scenario: str  # a scenario name, "market_data_sizes" or "market_data_ticking"
    metric: str  # a key of that scenario's result
    op: Literal[">=", "<="]
    value: float
    label: str

    def check(self, results: Mapping[str, Mapping[str, Any]]) -> tuple[float | None, str]:
        """(measured value, "PASS" | "MISS" | "n/a") against `results[scenario][metric]`."""
        measured = results.get(self.scenario, {}).get(self.metric)
        if not isinstance(measured, int | float):
            return None, "n/a"
        compare: Callable[[float, float], bool] = operator.ge if self.op == ">=" else operator.le
        return float(measured), "PASS" if compare(measured, self.value) else "MISS"


# Targets on this 2-core machine, server on one core, 64 connections.
TARGETS: tuple[Target, ...] = (
    # Twice the hit path of the first version (about 40 % of the raw ASGI ceiling here).
    Target("portfolio_hot", "rps", ">=", 24_000, "portfolio hot req/s"),
    Target("portfolio_hot", "p99_ms", "<=", 5, "portfolio hot p99 ms"),
    Target("portfolio_hot", "pct_of_ceiling", ">=", 55, "portfolio hot % of ceiling"),
    Target("portfolio_hot", "hit_rate_pct", ">=", 95, "portfolio hot cache hit rate %"),
    # The hit path as it serves a live market: each user's body is brought to every new quote version.
    Target("portfolio_ticking", "rps", ">=", 24_000, "portfolio ticking req/s"),
    Target("portfolio_ticking", "p99_ms", "<=", 5, "portfolio ticking p99 ms"),
    Target("portfolio_cold", "rps", ">=", 3_000, "portfolio cold req/s"),
    Target("portfolio_cold", "p99_ms", "<=", 50, "portfolio cold p99 ms"),
    Target("market_data_gzip", "rps", ">=", 6_000, "market data gzip req/s"),
    Target("mix", "rps", ">=", 8_000, "mix req/s"),
    # Each request answered 202 only once its row is durable (group commit).
    Target("report_enqueue", "rps", ">=", 5_000, "report enqueue req/s"),
    Target("report_enqueue", "p99_ms", "<=", 10, "report enqueue p99 ms"),
    Target("market_data_sizes", "best_br_zstd_saved_pct", ">=", 85, "market data saved by br/zstd %"),
    # The same body while the quote simulator ticks (every price moved): each coding on its own.
    Target("market_data_ticking", "br_pct_max", "<=", 15, "market data br % of identity, ticking"),
    Target("market_data_ticking", "zstd_pct_max", "<=", 15, "market data zstd % of identity, ticking"),
    # Enqueue p99 at most 5 ms at 64 connections, at an offered rate below saturation.
    Target("report_enqueue_paced", "p99_ms", "<=", 5, "report enqueue p99 ms at 256 req/s offered"),
    *(Target(s.name, "errors", "<=", 0, f"{s.name} errors") for s in SCENARIOS),
    # Live streams (bench/streams.py): 10,000 on one process while 10% of the equities move each second.
    Target("streams_10000", "open", ">=", 10_000, "streams open at 10,000"),
    Target("streams_10000", "lag_p99_ms", "<=", 250, "stream event lag p99 ms at 10,000 streams"),
    Target("streams_10000", "rss_per_stream_kb", "<=", 20, "stream server RSS KB per stream at 10,000"),
)


def evaluate(results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every target with its measured value and PASS / MISS / n/a (n/a: not measured in this run)."""
    rows = []
    for target in TARGETS:
        measured, status = target.check(results)
        rows.append({"target": f"{target.label} {target.op} {target.value:g}", "measured": measured, "status": status})
    return rows
