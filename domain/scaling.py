"""Target-tracking autoscaling, as AWS Application Auto Scaling does it: one pure policy for every use.

The same `Autoscaler` drives `/health`'s `scale_recommendation`, the fleet view (`/api/ops/scaling`
and the `folio_desired_instances` gauge) and the cost model's replay, so they never disagree.

Rules, so a reader can replay a decision by hand:
* Smoothing: each metric is the mean of the samples of the last `window_s` seconds, so one spike
  does not scale; no decision is taken before a whole window has been observed (warm-up: hold).
* Per metric: wants = ceil(current x value / target), with value / target capped by `step_caps`
  (a metric such as queue age that is not proportional to the instance count moves one step at a
  time). The desired count is the largest of those, clamped to [min_instances, max_instances].
* Scale out when the desired count exceeds the last one; the metric with the largest want drove it.
* Scale in only when every metric allows it: each is strictly below its low mark (default: its
  target) and the largest want is below the last desired count. The band between a low mark and
  its target (the default 30 % / 70 % CPU) is the hysteresis that stops a sawtooth from flapping.
* Cooldowns (chosen, stricter than AWS on scale-out): after a scale-out, no further scale-out
  for `scale_out_cooldown_s`; after any scaling activity, no scale-in for `scale_in_cooldown_s`
  (a scale-out restarts the scale-in clock: capacity just added is not removed at once). A scale-in
  never delays a scale-out (as AWS). While a cooldown blocks a change, the last desired count is
  kept, so a gauge of it does not flicker back to the current count.
* Bounds are not subject to cooldowns: the desired count starts clamped to [min, max], so a fleet
  below its minimum is told the minimum at once.
* Cooldowns should be longer than the window, so that a decision is not taken again on samples
  from before the previous one took effect (the default 300 s / 600 s against a 180 s window).

One module of about 350 lines on purpose: the rules above and the code that applies them are read
and changed together, and the decision's reasons (the texts operators see) live beside the rules.
"""

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

import msgspec

Direction = Literal["out", "in", "hold"]
# ceil(3 x 70.0 / 70.0) must be 3, not 4 after a rounding error.
EPSILON = 1e-9


class ScalingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What to track, within which bounds, and how fast to move."""

    min_instances: int
    max_instances: int
    targets: dict[str, float]  # metric name -> target value per instance
    scale_out_cooldown_s: float
    scale_in_cooldown_s: float
    window_s: float  # the metric used is the mean over the last window_s seconds
    # A metric allows scale-in only strictly below its low mark (absent: its target, as AWS).
    low_marks: dict[str, float] = msgspec.field(default_factory=dict)
    # Largest value/target ratio a metric may vote with in one step (absent: no cap).
    step_caps: dict[str, float] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.min_instances <= self.max_instances:
            raise ValueError("need 0 <= min_instances <= max_instances")
        if not self.targets or any(t <= 0 for t in self.targets.values()):
            raise ValueError("every target must be positive, and there must be one")
        if any(self.low_marks.get(m, t) > t for m, t in self.targets.items()):
            raise ValueError("a low mark must not exceed its target")
        if any(cap < 1 for cap in self.step_caps.values()):
            raise ValueError("a step cap below 1 would stop that metric from ever scaling out")
        if self.window_s <= 0 or self.scale_out_cooldown_s < 0 or self.scale_in_cooldown_s < 0:
            raise ValueError("the window must be positive and cooldowns non-negative")

    def low_mark(self, metric: str) -> float:
        return self.low_marks.get(metric, self.targets[metric])

    def clamp(self, count: int) -> int:
        return max(self.min_instances, min(self.max_instances, count))


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """One observation's outcome: how many instances there should be, and why."""

    current: int
    desired: int
    direction: Direction  # the scaling activity this observation started ("hold": none)
    reason: str
    metrics: dict[str, float]  # the smoothed values used
    cooldown_until: float | None  # epoch seconds when the next scaling in that direction is allowed


class Sample(msgspec.Struct, frozen=True, array_like=True):
    at: float
    values: dict[str, float]


class ScalerState(msgspec.Struct, kw_only=True):
    """Everything an Autoscaler remembers, as plain data: it can be stored and handed to another process."""

    samples: list[Sample] = msgspec.field(default_factory=list)
    first_at: float | None = None
    desired: int | None = None
    last_out_at: float | None = None
    last_activity_at: float | None = None


class ScalerRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A scaler's memory and its latest decision, stored together so every process reads the same."""

    state: ScalerState
    decision: Decision
    decided_at: float


class _Want(msgspec.Struct, frozen=True):
    """The metrics' vote before cooldowns: the clamped desired count and the metric that drove it."""

    desired: int
    raw: int
    metric: str
    scale_in_allowed: bool


class Autoscaler:
    """Target tracking over a stream of samples; remembers the window, the last desired count and cooldowns."""

    def __init__(self, policy: ScalingPolicy, state: ScalerState | None = None) -> None:
        self.policy = policy
        self.state = state if state is not None else ScalerState()

    def observe(self, now: float, current: int, metrics: Mapping[str, float]) -> Decision:
        """Add one sample (per-instance metric values at time `now`) and decide."""
        self._record(now, metrics)
        smoothed = self.smoothed(now)
        # Clamped again: bounds may have changed since a stored state was written.
        last = self.policy.clamp(self.state.desired if self.state.desired is not None else current)
        self.state.desired = last
        observed = now - (self.state.first_at if self.state.first_at is not None else now)
        if observed < self.policy.window_s:
            reason = f"warming up: {observed:.0f} s of the {self.policy.window_s:.0f} s window observed"
            return self._hold(now, current, smoothed, _bounds_note(self.policy, current, last) or reason, None)
        want = _want(self.policy, current, smoothed)
        if want is None:
            return self._hold(now, current, smoothed, "no samples in the window", None)
        if want.desired > last:
            return self._scale_out(now, current, smoothed, want, last)
        if want.desired < last and want.scale_in_allowed:
            return self._scale_in(now, current, smoothed, want, last)
        return self._hold(now, current, smoothed, _hold_reason(self.policy, current, smoothed, want, last), None)

    def smoothed(self, now: float) -> dict[str, float]:
        """The mean of each tracked metric over the window ending at `now`."""
        sums: dict[str, list[float]] = {}
        for sample in self.state.samples:
            if sample.at > now - self.policy.window_s:
                for name, value in sample.values.items():
                    sums.setdefault(name, []).append(value)
        return {name: math.fsum(values) / len(values) for name, values in sums.items()}

    def _record(self, now: float, metrics: Mapping[str, float]) -> None:
        tracked = {name: float(v) for name, v in metrics.items() if name in self.policy.targets}
        horizon = now - self.policy.window_s
        self.state.samples = [s for s in self.state.samples if s.at > horizon]
        self.state.samples.append(Sample(now, tracked))
        if self.state.first_at is None:
            self.state.first_at = now

    def _scale_out(self, now: float, current: int, smoothed: dict[str, float], want: _Want, last: int) -> Decision:
        until = self._out_until()
        why = _vote_text(self.policy, current, smoothed, want)
        if until is not None and now < until:
            return self._hold(now, current, smoothed, f"scale-out cooldown until {_iso(until)}; {why}", until)
        if want.raw > self.policy.max_instances:
            why = f"{why}, capped at the maximum of {self.policy.max_instances}"
        self.state.desired = want.desired
        self.state.last_out_at = self.state.last_activity_at = now
        return Decision(
            current=current,
            desired=want.desired,
            direction="out",
            reason=why,
            metrics=smoothed,
            cooldown_until=now + self.policy.scale_out_cooldown_s,
        )

    def _scale_in(self, now: float, current: int, smoothed: dict[str, float], want: _Want, last: int) -> Decision:
        until = self._in_until()
        why = f"every metric below its low mark ({_levels(self.policy, smoothed)}): {last} -> {want.desired}"
        if until is not None and now < until:
            return self._hold(now, current, smoothed, f"scale-in cooldown until {_iso(until)}; {why}", until)
        self.state.desired = want.desired
        self.state.last_activity_at = now
        return Decision(
            current=current,
            desired=want.desired,
            direction="in",
            reason=why,
            metrics=smoothed,
            cooldown_until=now + self.policy.scale_in_cooldown_s,
        )

    def _hold(self, now: float, current: int, smoothed: dict[str, float], reason: str, until: float | None) -> Decision:
        if until is None:
            until = self._running_cooldown(now, pressure(self.policy, smoothed))
        desired = self.state.desired if self.state.desired is not None else self.policy.clamp(current)
        return Decision(
            current=current, desired=desired, direction="hold", reason=reason, metrics=smoothed, cooldown_until=until
        )

    def _running_cooldown(self, now: float, push: Direction) -> float | None:
        """The cooldown in the direction the metrics push, or else the last one to end, if running."""
        ends = {"out": self._out_until(), "in": self._in_until()}
        if push != "hold":
            end = ends[push]
            return end if end is not None and end > now else None
        return max((t for t in ends.values() if t is not None and t > now), default=None)

    def _out_until(self) -> float | None:
        last = self.state.last_out_at
        return None if last is None else last + self.policy.scale_out_cooldown_s

    def _in_until(self) -> float | None:
        last = self.state.last_activity_at
        return None if last is None else last + self.policy.scale_in_cooldown_s


def pressure(policy: ScalingPolicy, smoothed: Mapping[str, float]) -> Direction:
    """Which way the metrics push, before rounding, bounds and cooldowns.

    "out" when a metric is above its target (what makes ceil(current x value / target) exceed the
    current count), "in" when every metric is below its low mark (scale-in's condition), else "hold".
    """
    tracked = {name: value for name, value in smoothed.items() if name in policy.targets}
    if any(value > policy.targets[name] for name, value in tracked.items()):
        return "out"
    if tracked and all(value < policy.low_mark(name) for name, value in tracked.items()):
        return "in"
    return "hold"


def metric_wants(policy: ScalingPolicy, current: int, smoothed: Mapping[str, float]) -> dict[str, int]:
    """Each tracked metric's vote: ceil(current x value / target), the ratio capped by `step_caps`.

    From zero instances a fleet is counted as one, so a backlog can start the first worker.
    """
    base = max(current, 1)
    wants: dict[str, int] = {}
    for name, value in smoothed.items():
        target = policy.targets.get(name)
        if target is None:
            continue
        ratio = min(value / target, policy.step_caps.get(name, math.inf))
        wants[name] = max(math.ceil(base * ratio - EPSILON), 0)
    return wants


def _want(policy: ScalingPolicy, current: int, smoothed: Mapping[str, float]) -> _Want | None:
    wants = metric_wants(policy, current, smoothed)
    if not wants:
        return None
    metric = max(wants, key=lambda name: (wants[name], smoothed[name] / policy.targets[name]))
    allowed = all(smoothed[name] < policy.low_mark(name) for name in wants)
    return _Want(policy.clamp(wants[metric]), wants[metric], metric, allowed)


def _vote_text(policy: ScalingPolicy, current: int, smoothed: Mapping[str, float], want: _Want) -> str:
    value, target = smoothed[want.metric], policy.targets[want.metric]
    relation = "above" if value > target else "at or below"
    capped = " (step capped)" if value / target > policy.step_caps.get(want.metric, math.inf) else ""
    return (
        f"{want.metric} {value:.1f} {relation} target {target:g}: "
        f"ceil({max(current, 1)} x {value:.1f} / {target:g}){capped} = {want.raw}"
    )


def _levels(policy: ScalingPolicy, smoothed: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {smoothed[name]:.1f} < {policy.low_mark(name):g}" for name in sorted(smoothed))


def _hold_reason(policy: ScalingPolicy, current: int, smoothed: Mapping[str, float], want: _Want, last: int) -> str:
    if want.raw > policy.max_instances and last == policy.max_instances:
        return f"at the maximum of {policy.max_instances}: {_vote_text(policy, current, smoothed, want)}"
    if want.desired < last:
        blocking = [n for n in sorted(smoothed) if n in policy.targets and smoothed[n] >= policy.low_mark(n)]
        marks = ", ".join(f"{n} {smoothed[n]:.1f} >= low mark {policy.low_mark(n):g}" for n in blocking)
        return f"holding {last}: scale-in needs every metric below its low mark ({marks})"
    if want.raw < policy.min_instances and last == policy.min_instances:
        return f"at the minimum of {policy.min_instances}"
    if last != current:
        return f"desired {last}, {current} running; {_vote_text(policy, current, smoothed, want)}"
    parts = ", ".join(f"{n} {smoothed[n]:.1f} (target {policy.targets[n]:g})" for n in sorted(smoothed))
    return f"within targets: {parts}"


def _bounds_note(policy: ScalingPolicy, current: int, desired: int) -> str | None:
    if current < desired == policy.min_instances:
        return f"below the minimum of {policy.min_instances}"
    if current > desired == policy.max_instances:
        return f"above the maximum of {policy.max_instances}"
    return None


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="seconds")


def web_policy(
    *,
    min_instances: int,
    max_instances: int,
    target_cpu: float,
    target_memory: float,
    low_cpu: float,
    scale_out_cooldown_s: float,
    scale_in_cooldown_s: float,
    window_s: float,
) -> ScalingPolicy:
    """Web processes: CPU and memory per instance (70 % / 80 % by default), scale-in below the CPU low mark."""
    return ScalingPolicy(
        min_instances=min_instances,
        max_instances=max_instances,
        targets={"cpu": target_cpu, "memory": target_memory},
        low_marks={"cpu": min(low_cpu, target_cpu)},
        scale_out_cooldown_s=scale_out_cooldown_s,
        scale_in_cooldown_s=scale_in_cooldown_s,
        window_s=window_s,
    )


# The oldest message's age falls roughly as 1/workers once the queue drains (Little's law), but it
# lags and a single stuck message inflates it: it may at most double the workers in one step.
QUEUE_AGE_STEP_CAP = 2.0


def worker_policy(
    *,
    min_instances: int,
    max_instances: int,
    target_backlog: float,
    target_queue_age_s: float,
    scale_out_cooldown_s: float,
    scale_in_cooldown_s: float,
    window_s: float,
) -> ScalingPolicy:
    """Workers: queued reports per worker ("backlog") and the oldest queued report's age ("queue_age_s")."""
    return ScalingPolicy(
        min_instances=min_instances,
        max_instances=max_instances,
        targets={"backlog": target_backlog, "queue_age_s": target_queue_age_s},
        step_caps={"queue_age_s": QUEUE_AGE_STEP_CAP},
        scale_out_cooldown_s=scale_out_cooldown_s,
        scale_in_cooldown_s=scale_in_cooldown_s,
        window_s=window_s,
    )
