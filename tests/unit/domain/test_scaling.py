"""The autoscaling policy driven through synthetic load series: decisions, bounds and cooldowns."""

import itertools
import math
from collections.abc import Callable

import msgspec
import pytest

from domain.scaling import Autoscaler, Decision, ScalerState, ScalingPolicy, web_policy, worker_policy

# The seed's numbers: CPU 70 %, memory 80 %, scale in below 30 % CPU, 2..8 instances, 300 s / 600 s
# cooldowns, a 180 s window.
SEED = web_policy(
    min_instances=2,
    max_instances=8,
    target_cpu=70,
    target_memory=80,
    low_cpu=30,
    scale_out_cooldown_s=300,
    scale_in_cooldown_s=600,
    window_s=180,
)
MEMORY = 40.0  # per instance, whatever the count
Load = Callable[[int], float]


def replay(load: Load, *, until: int, current: int = 2, step: int = 10, policy: ScalingPolicy = SEED) -> list[Decision]:
    """Total CPU demand (in instance-percent) spread over the fleet, which follows every decision at once."""
    scaler = Autoscaler(policy)
    decisions = []
    for t in range(0, until, step):
        decision = scaler.observe(float(t), current, {"cpu": load(t) / current, "memory": MEMORY})
        decisions.append(decision)
        current = decision.desired
    return decisions


def activities(decisions: list[Decision], step: int = 10) -> list[tuple[int, str, int]]:
    return [(i * step, d.direction, d.desired) for i, d in enumerate(decisions) if d.direction != "hold"]


def test_a_step_up_scales_out_then_waits_for_the_cooldown_before_the_next_step():
    decisions = replay(lambda t: 100 if t < 600 else 300, until=3600)
    # The window mean passes 70 % four samples after the step; the second step waits 300 s and,
    # with a window of samples all taken at three instances, goes straight to ceil(3 x 100 / 70).
    assert activities(decisions) == [(630, "out", 3), (930, "out", 5)]
    assert "cpu 72.2 above target 70" in decisions[63].reason
    held = decisions[64]
    assert held.direction == "hold"
    assert held.cooldown_until == 930.0
    assert "scale-out cooldown until" in held.reason
    assert decisions[-1].desired == 5
    assert decisions[-1].metrics["cpu"] == pytest.approx(60.0)


def test_a_single_spike_does_not_scale():
    decisions = replay(lambda t: 400 if t == 900 else 100, until=2400)
    assert activities(decisions) == []
    assert max(d.metrics["cpu"] for d in decisions) < 70


def test_a_slow_ramp_adds_one_instance_each_time_the_mean_crosses_the_target_and_stops_at_the_maximum():
    decisions = replay(lambda t: 100 + 600 * min(t, 7200) / 7200, until=9000)
    events = activities(decisions)
    assert [e[1] for e in events] == ["out"] * 6
    assert [e[2] for e in events] == [3, 4, 5, 6, 7, 8]
    assert all(b[0] - a[0] >= SEED.scale_out_cooldown_s for a, b in itertools.pairwise(events))
    assert max(d.desired for d in decisions) == 8
    assert decisions[-1].reason.startswith("at the maximum of 8: cpu 87.5 above target 70")


def test_a_sawtooth_around_the_target_does_not_flap():
    # 70 % +/- 18 % per instance, changing every 30 s: the window mean stays just under the target.
    below = replay(lambda t: 2 * (68 + (18 if (t // 30) % 2 else -18)), until=7200)
    assert activities(below) == []
    # Just above the target: one scale-out, and the band down to the 30 % low mark keeps it there.
    above = replay(lambda t: 2 * (72 + (18 if (t // 30) % 2 else -18)), until=7200)
    assert [e[1:] for e in activities(above)] == [("out", 3)]


def test_sustained_idle_scales_in_to_the_minimum_one_activity_per_scale_in_cooldown():
    decisions = replay(lambda t: 80, until=3600, current=8)
    # At 8 instances: cpu wants ceil(8 x 10 / 70) = 2, memory ceil(8 x 40 / 80) = 4: the larger wins.
    assert activities(decisions) == [(180, "in", 4), (780, "in", 2)]
    assert decisions[18].cooldown_until == 780.0
    assert "scale-in cooldown until" in decisions[19].reason
    assert (decisions[-1].desired, decisions[-1].direction) == (2, "hold")


def test_scale_in_needs_every_metric_below_its_low_mark():
    # CPU 35 % is under the target but above the 30 % low mark: the proportional count (3) is not taken.
    decisions = replay(lambda t: 4 * 35, until=1800, current=4)
    assert activities(decisions) == []
    assert "scale-in needs every metric below its low mark (cpu 35.0 >= low mark 30)" in decisions[-1].reason


def test_memory_alone_can_scale_out():
    scaler = Autoscaler(SEED)
    decisions = [scaler.observe(float(t), 2, {"cpu": 20.0, "memory": 95.0}) for t in range(0, 190, 10)]
    assert decisions[-1].direction == "out"
    assert decisions[-1].desired == math.ceil(2 * 95 / 80)
    assert decisions[-1].reason.startswith("memory 95.0 above target 80")


@pytest.mark.parametrize(("load", "current"), [(2000, 2), (0, 8)])
def test_never_above_the_maximum_nor_below_the_minimum(load, current):
    decisions = replay(lambda t: load, until=7200, current=current)
    assert all(2 <= d.desired <= 8 for d in decisions)
    assert decisions[-1].desired == (8 if load else 2)


def test_a_fleet_outside_the_bounds_is_told_the_bound_at_once():
    scaler = Autoscaler(SEED)
    below = scaler.observe(0.0, 1, {"cpu": 50.0})
    assert (below.desired, below.direction, below.reason) == (2, "hold", "below the minimum of 2")
    above = Autoscaler(SEED).observe(0.0, 12, {"cpu": 50.0})
    assert (above.desired, above.reason) == (8, "above the maximum of 8")


def test_no_decision_before_a_whole_window_is_observed():
    scaler = Autoscaler(SEED)
    early = [scaler.observe(float(t), 2, {"cpu": 99.0}) for t in range(0, 180, 10)]
    assert {d.direction for d in early} == {"hold"}
    assert early[-1].reason == "warming up: 170 s of the 180 s window observed"
    assert scaler.observe(180.0, 2, {"cpu": 99.0}).direction == "out"


def test_cooldowns_end_at_exact_times():
    policy = msgspec.structs.replace(SEED, window_s=10)
    scaler = Autoscaler(policy)
    scaler.observe(0.0, 2, {"cpu": 50.0})
    first = scaler.observe(10.0, 2, {"cpu": 90.0})
    assert (first.direction, first.desired, first.cooldown_until) == ("out", 3, 310.0)
    # Overloaded all along, scale-out waits for 310; idle all along, scale-in waits for 10 + 600.
    assert scaler.observe(309.0, 3, {"cpu": 90.0}).direction == "hold"
    assert scaler.observe(310.0, 3, {"cpu": 90.0}).desired == 4
    assert scaler.observe(905.0, 4, {"cpu": 5.0}).cooldown_until == 910.0
    assert scaler.observe(909.0, 4, {"cpu": 5.0}).direction == "hold"
    last = scaler.observe(910.0, 4, {"cpu": 5.0})
    assert (last.direction, last.desired, last.cooldown_until) == ("in", 2, 1510.0)


def test_a_scale_in_does_not_delay_a_scale_out():
    policy = msgspec.structs.replace(SEED, window_s=10)
    scaler = Autoscaler(policy)
    scaler.observe(0.0, 4, {"cpu": 5.0})
    assert scaler.observe(10.0, 4, {"cpu": 5.0}).direction == "in"
    again = scaler.observe(20.0, 2, {"cpu": 95.0})
    assert (again.direction, again.desired) == ("out", 3)


def test_the_state_is_plain_data_another_scaler_continues_from():
    policy = msgspec.structs.replace(SEED, window_s=10)
    scaler = Autoscaler(policy)
    scaler.observe(0.0, 2, {"cpu": 90.0})
    assert scaler.observe(10.0, 2, {"cpu": 90.0}).direction == "out"
    stored = msgspec.msgpack.encode(scaler.state)
    successor = Autoscaler(policy, msgspec.msgpack.decode(stored, type=ScalerState))
    held = successor.observe(20.0, 3, {"cpu": 90.0})
    assert (held.direction, held.desired, held.cooldown_until) == ("hold", 3, 310.0)


WORKERS = worker_policy(
    min_instances=1,
    max_instances=8,
    target_backlog=20,
    target_queue_age_s=30,
    scale_out_cooldown_s=60,
    scale_in_cooldown_s=300,
    window_s=30,
)


def drive_workers(series: Callable[[int, int], tuple[float, float]], until: int, current: int = 1) -> list[Decision]:
    """`series(t, workers)` gives (queued reports, oldest age); backlog is reported per worker."""
    scaler = Autoscaler(WORKERS)
    decisions = []
    for t in range(0, until, 5):
        queued, age = series(t, current)
        decisions.append(scaler.observe(float(t), current, {"backlog": queued / current, "queue_age_s": age}))
        current = decisions[-1].desired
    return decisions


def test_worker_backlog_scales_out_proportionally():
    decisions = drive_workers(lambda t, n: (100.0, 5.0), until=60)
    first = next(d for d in decisions if d.direction == "out")
    assert first.desired == 5  # ceil(1 x 100 / 20)
    assert first.reason.startswith("backlog 100.0 above target 20")


def test_queue_age_at_most_doubles_the_workers_per_step():
    decisions = drive_workers(lambda t, n: (10.0, 240.0), until=400, current=2)
    outs = [(i * 5, d.desired) for i, d in enumerate(decisions) if d.direction == "out"]
    # 240 s against 30 s would ask for 8x; the cap makes it 2x per step, each after the 60 s cooldown.
    assert outs == [(30, 4), (90, 8)]
    assert "(step capped)" in decisions[6].reason


def test_an_empty_queue_scales_workers_in_to_the_minimum():
    decisions = drive_workers(lambda t, n: (0.0, 0.0), until=400, current=6)
    assert [(i * 5, d.desired) for i, d in enumerate(decisions) if d.direction == "in"] == [(30, 1)]


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError, match="min_instances"):
        msgspec.structs.replace(SEED, min_instances=9)
    with pytest.raises(ValueError, match="low mark"):
        msgspec.structs.replace(SEED, low_marks={"cpu": 90.0})
