"""The bench's own arithmetic and its raw ceiling app (the load itself is `make bench`'s)."""

import asyncio

from bench.ceiling import create_raw_app
from bench.report import add_ceiling_fractions, compare_table


def test_every_scenario_is_a_share_of_both_ceilings_of_the_same_run():
    results = {"raw_ceiling": {"rps": 40_000.0}, "ceiling": {"rps": 10_000.0}, "portfolio_hot": {"rps": 12_000.0}}
    add_ceiling_fractions(results)
    assert results["portfolio_hot"]["pct_of_raw"] == 30.0
    assert results["portfolio_hot"]["pct_of_ceiling"] == 120.0
    results |= {"raw_ceiling_market_data": {"rps": 5_000.0}, "market_data_gzip": {"rps": 2_000.0}}
    results["ceiling_market_data"] = {"rps": 4_000.0}
    add_ceiling_fractions(results)
    # the market data's 300 KB bodies are set against the ceilings of their own size
    assert (results["market_data_gzip"]["pct_of_raw"], results["market_data_gzip"]["pct_of_ceiling"]) == (40.0, 50.0)
    alone = {"portfolio_hot": {"rps": 12_000.0}}
    add_ceiling_fractions(alone)
    assert alone["portfolio_hot"]["pct_of_raw"] is None


def test_compare_prints_after_over_before_for_the_scenarios_both_ran():
    before = {"scenarios": {"portfolio_hot": {"rps": 10_000.0, "p50_ms": 4.0, "p99_ms": 20.0, "pct_of_raw": 25.0}}}
    after = {"scenarios": {"portfolio_hot": {"rps": 15_000.0, "p50_ms": 3.0, "p99_ms": 10.0, "pct_of_raw": 37.5},
                           "trades": {"rps": 1.0, "p50_ms": 1.0, "p99_ms": 1.0}}}  # fmt: skip
    table = compare_table(before, after)
    row = next(line for line in table.splitlines() if line.startswith("portfolio_hot"))
    assert row.split()[3:6] == ["1.500", "0.750", "0.500"]
    assert "trades" not in table


def test_the_raw_ceiling_answers_any_request_with_a_body_of_the_asked_size(monkeypatch):
    monkeypatch.setenv("BENCH_BODY_SIZE", "5520")
    app = create_raw_app()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app({"type": "http", "path": "/anything"}, None, send))
    assert sent[0]["status"] == 200
    assert len(sent[1]["body"]) == 5520
    assert dict(sent[0]["headers"])[b"content-length"] == b"5520"
