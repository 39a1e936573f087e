"""The cost model: replays through the service's own autoscaling policy, the bill's arithmetic, the inputs."""

import argparse
import json
import math
from pathlib import Path

import pytest

from cli.cost import command, model
from cli.cost.chart import ChartData, draw
from cli.cost.measured import BenchError, measured
from cli.cost.profile import MINUTES_PER_DAY, ProfileError, parse_csv, seed_profile
from config.scaling import web_scaling_policy
from config.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]
SEED = web_scaling_policy(Settings())
PRICES = model.Prices(
    instance_type="t3.large",
    instance_per_hour=0.0832,
    cache_per_month=20.0,
    database_per_month=50.0,
    bandwidth_per_gb=0.09,
)


def flat(requests_per_second: float, minutes: int = MINUTES_PER_DAY) -> list[float]:
    return [requests_per_second * 60] * minutes


def test_a_flat_load_within_the_band_keeps_the_fleet_as_it_is() -> None:
    # 1,000 req/s on 2 instances of 1,000 req/s: 50 % CPU, between the 30 % low mark and the 70 % target.
    replayed = model.replay(SEED, flat(1000), 1000, memory_pct=30)
    assert {m.launched for m in replayed.minutes} == {2}
    assert replayed.instance_hours == pytest.approx(2 * 24)


def test_a_flat_heavy_load_settles_at_a_stable_count_below_the_target() -> None:
    replayed = model.replay(SEED, flat(3000), 1000, memory_pct=30, boot_s=120)
    last_hours = replayed.minutes[-10 * 60 :]
    (settled,) = {m.launched for m in last_hours}
    assert settled == math.ceil(3000 / 700)  # the fewest instances that keep CPU at or below 70 %
    assert all(SEED.low_mark("cpu") <= m.cpu_pct <= SEED.targets["cpu"] for m in last_hours)
    assert replayed.minutes[0].launched == 2


def test_the_seed_day_stays_within_the_bounds_and_follows_the_peak() -> None:
    profile = seed_profile(250_000_000)
    replayed = model.replay(SEED, profile, 2867, memory_pct=30, boot_s=120)
    counts = [m.launched for m in replayed.minutes]
    assert min(counts) == SEED.min_instances
    assert max(counts) <= SEED.max_instances
    assert max(counts) > SEED.min_instances
    busiest = counts.index(max(counts)) / 60
    assert 8 <= busiest <= 12  # the market-open peak
    assert counts[3 * 60] == counts[-1] == SEED.min_instances  # night
    assert replayed.saturated_minutes == 0


def test_the_seed_day_at_the_seeds_load_never_leaves_the_minimum() -> None:
    replayed = model.replay(SEED, seed_profile(), 2867, memory_pct=30)
    assert {m.launched for m in replayed.minutes} == {SEED.min_instances}
    assert max(m.cpu_pct for m in replayed.minutes) < 1


def test_a_new_instance_is_billed_at_once_and_serves_after_booting() -> None:
    replayed = model.replay(SEED, flat(2000), 1000, memory_pct=30, boot_s=120)
    first_out = next(m for m in replayed.minutes if m.launched > 2)
    later = replayed.minutes[first_out.minute + 1]
    assert later.serving == 2 < later.launched
    assert replayed.minutes[first_out.minute + 2].serving == later.launched


def test_load_beyond_the_maximum_is_reported_as_saturation() -> None:
    replayed = model.replay(SEED, flat(20_000, 120), 1000, memory_pct=30)
    assert replayed.peak_instances == SEED.max_instances
    assert replayed.saturated_minutes == 120


def test_the_seed_profile_sums_to_the_daily_total_and_peaks_at_the_open() -> None:
    profile = seed_profile()
    assert len(profile) == MINUTES_PER_DAY
    assert math.fsum(profile) == pytest.approx(1_000_000)
    peak = profile.index(max(profile))
    assert 9 * 60 <= peak <= 10 * 60 + 30
    assert min(profile) > 0


def test_a_fixed_fleet_bill_is_its_instances_all_month() -> None:
    bill = model.fixed_bill(12, worker_instances=1, bandwidth=0.0, prices=PRICES)
    instances = bill.components["web instances"] + bill.components["worker instances"]
    assert instances == pytest.approx(12 * 0.0832 * 730)
    assert bill.instance_hours == 12 * 730


def test_the_bill_adds_each_component_at_its_price() -> None:
    gb = model.bandwidth_gb(flat(100), 10_000)  # 100 req/s x 10 kB, all month
    assert gb == pytest.approx(100 * 10_000 * 3600 * 730 / 1e9)
    replayed = model.replay(SEED, flat(100), 1000, memory_pct=30)
    bill = model.autoscaled_bill(replayed, worker_instances=1, bandwidth=gb, prices=PRICES)
    assert bill.components == pytest.approx(
        {
            "web instances": 2 * 730 * 0.0832,
            "worker instances": 730 * 0.0832,
            "cache": 20.0,
            "database": 50.0,
            "bandwidth": gb * 0.09,
        }
    )
    assert bill.total == pytest.approx(sum(bill.components.values()))


def test_a_shorter_profile_repeats_for_the_month() -> None:
    replayed = model.replay(SEED, flat(100, 60), 1000, memory_pct=30)
    bill = model.autoscaled_bill(replayed, worker_instances=0, bandwidth=0.0, prices=PRICES)
    assert bill.instance_hours == pytest.approx(2 * 730)


def test_the_cumulative_instance_cost_ends_at_the_day_total() -> None:
    spent = model.cumulative_instance_cost([2] * MINUTES_PER_DAY, worker_instances=1, price_per_hour=0.0832)
    assert spent[-1] == pytest.approx(3 * 24 * 0.0832)


def test_a_csv_profile_with_a_header_or_one_column() -> None:
    assert parse_csv("minute,requests\n0,10\n1,20.5\n") == [10.0, 20.5]
    assert parse_csv("5\n6\n\n") == [5.0, 6.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no rows"),
        ("minute,requests\n", "no rows"),
        ("0,10\n2,10\n", "row 2: minute 2 where 1 was expected"),
        ("0,ten\n", "row 1: requests is not a number: 'ten'"),
        ("0,-1\n", "row 1: requests must not be negative"),
        ("0,1,2\n", "row 1: expected `minute,requests` or `requests`, got 3 fields"),
        ("0,nan\n", "row 1: requests must be finite"),
    ],
)
def test_a_bad_csv_profile_is_refused_with_where_and_why(text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_csv(text)


def test_throughput_and_response_size_come_from_the_bench_results() -> None:
    path = ROOT / "bench" / "results" / "latest.json"
    results = json.loads(path.read_text())
    figures = measured(path)
    assert figures.rps_per_process == results["scenarios"]["mix"]["rps"]
    assert results["portfolio_body_bytes"] < figures.bytes_per_response < results["market_data_sizes"]["gzip"]["bytes"]


def test_missing_bench_figures_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="run `make bench`, or give --throughput"):
        measured(tmp_path / "absent.json")
    (tmp_path / "r.json").write_text('{"scenarios": {"ceiling": {"rps": 5}}}')
    with pytest.raises(BenchError, match="no 'mix' figure in the bench results"):
        measured(tmp_path / "r.json")


def test_the_chart_is_a_png(tmp_path: Path) -> None:
    replayed = model.replay(SEED, seed_profile(250_000_000), 2867, memory_pct=30)
    data = ChartData(
        replay=replayed,
        target_cpu_pct=70,
        fixed_web_instances=11,
        fixed_label="fixed",
        autoscaled_cost=[float(i) for i in range(MINUTES_PER_DAY)],
        fixed_cost=[2.0 * i for i in range(MINUTES_PER_DAY)],
        title="test",
    )
    path = draw(data, tmp_path / "cost.png")
    assert path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_command_prints_both_bills_and_writes_the_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings({"MIN_INSTANCES": "3"})
    chart = tmp_path / "cost.png"
    code = command.main(
        settings, arguments("--throughput", "1000", "--bytes-per-response", "5000", "--chart", str(chart))
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Replay: web instances 3..3" in out
    assert "fixed 12 x t3.large" in out
    assert "$0.0832/h" in out
    assert chart.stat().st_size > 0


def test_the_default_day_is_named_in_plain_words(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.main(Settings(), arguments("--throughput", "1000", "--bytes-per-response", "5000")) == 0
    out = capsys.readouterr().out
    assert out.startswith("Traffic: a trading day: 1,000,000 requests over 1,440 minutes;")
    assert "`trading-day`" in parser.format_help()
    assert "seed" not in (out + parser.format_help()).lower()


def test_the_command_reports_a_bad_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "day.csv"
    profile.write_text("minute,requests\n0,x\n")
    assert command.main(Settings(), arguments("--profile", str(profile), "--throughput", "1000")) == 2
    assert f"{profile}: row 1: requests is not a number" in capsys.readouterr().err
