"""What `make bench` measured, read from bench/results/latest.json: throughput and response sizes."""

import json
from pathlib import Path
from typing import Any

import msgspec

DEFAULT_SCENARIO = "mix"
# bench/lua/mix.lua: the realistic request mix, and the share of each kind of response in it.
MIX_SHARES = {"portfolio": 0.80, "market_data": 0.10, "static_data": 0.05, "trade": 0.05}
# Sizes the bench does not record: the demo data's instrument list gzip-encoded (measured once,
# 82.5 KB of 705 KB), a trade's 201 body with its holding, and the headers of any response.
STATIC_DATA_GZIP_BYTES = 82_500
TRADE_BODY_BYTES = 600
RESPONSE_HEADER_BYTES = 500


class BenchError(ValueError):
    """The bench results are missing, unreadable or lack the figure asked for."""


class Measured(msgspec.Struct, frozen=True, kw_only=True):
    """Per-process throughput of one scenario and the mean bytes of a response in the mix."""

    scenario: str
    rps_per_process: float  # one Granian worker on one pinned core, as `make bench` serves it
    bytes_per_response: float
    source: str


def read_results(path: Path) -> dict[str, Any]:
    """The bench's JSON document."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise BenchError(f"cannot read {path}: {e.strerror} (run `make bench`, or give --throughput)") from None
    except json.JSONDecodeError as e:
        raise BenchError(f"{path} is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise BenchError(f"{path} is not a bench results document")
    return data


def scenario_rps(results: dict[str, Any], scenario: str) -> float:
    """Successful responses per second of a scenario."""
    try:
        rps = float(results["scenarios"][scenario]["rps"])
    except (KeyError, TypeError, ValueError):
        known = ", ".join(sorted(results.get("scenarios") or {}))
        raise BenchError(f"no {scenario!r} figure in the bench results (scenarios: {known or 'none'})") from None
    if rps <= 0:
        raise BenchError(f"the bench's {scenario!r} throughput is {rps}: not usable")
    return rps


def mix_bytes_per_response(results: dict[str, Any]) -> float:
    """Mean bytes on the wire per response of the mix: measured bodies, weighted by their shares."""
    try:
        portfolio = float(results["portfolio_body_bytes"])
        market_data = float(results["market_data_sizes"]["gzip"]["bytes"])
    except (KeyError, TypeError, ValueError):
        raise BenchError("the bench results lack the portfolio or market-data body sizes") from None
    bodies = {
        "portfolio": portfolio,
        "market_data": market_data,
        "static_data": STATIC_DATA_GZIP_BYTES,
        "trade": TRADE_BODY_BYTES,
    }
    return RESPONSE_HEADER_BYTES + sum(MIX_SHARES[kind] * size for kind, size in bodies.items())


def measured(path: Path, scenario: str = DEFAULT_SCENARIO) -> Measured:
    """The figures the cost model takes from a bench results file."""
    results = read_results(path)
    return Measured(
        scenario=scenario,
        rps_per_process=scenario_rps(results, scenario),
        bytes_per_response=mix_bytes_per_response(results),
        source=f"{path} ({results.get('date', 'undated')})",
    )
