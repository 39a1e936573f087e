"""The cost model's text: the scenario, the replay's summary and the monthly bills side by side."""

import itertools
import math

import msgspec

from cli.cost.model import HOURS_PER_MONTH, Bill, Replay
from domain.scaling import ScalingPolicy


class CostRun(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one run of the model produced, for the report and the chart."""

    profile: list[float]  # requests per minute
    profile_name: str
    throughput_note: str
    policy: ScalingPolicy
    boot_s: float
    memory_pct: float
    replay: Replay
    autoscaled: Bill
    fixed: Bill
    bandwidth_gb: float
    bytes_per_response: float
    bandwidth_price: float
    instance_price: float
    budget: float


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def headline(run: CostRun) -> list[str]:
    """The scenario: traffic, throughput, policy."""
    loads = [m.load_rps for m in run.replay.minutes]
    peak = max(range(len(loads)), key=loads.__getitem__)
    p = run.policy
    return [
        f"Traffic: {run.profile_name}: {math.fsum(run.profile):,.0f} requests over {len(loads):,} minutes;"
        f" mean {math.fsum(loads) / len(loads):,.1f} req/s, peak {loads[peak]:,.1f} req/s at {_clock(peak)}",
        f"Throughput: {run.throughput_note}",
        f"Policy (domain.scaling): CPU target {p.targets['cpu']:g} % (scale-in below {p.low_mark('cpu'):g} %),"
        f" memory {p.targets['memory']:g} % (modelled flat at {run.memory_pct:g} %),"
        f" {p.min_instances}..{p.max_instances} instances, cooldowns {p.scale_out_cooldown_s:g} s out /"
        f" {p.scale_in_cooldown_s:g} s in, window {p.window_s:g} s, boot {run.boot_s:g} s",
    ]


def replay_summary(run: CostRun) -> list[str]:
    """What the autoscaler did over the profile."""
    minutes = run.replay.minutes
    counts = [m.launched for m in minutes]
    actions = sum(1 for before, after in itertools.pairwise(counts) if after != before)
    mean = math.fsum(counts) / len(counts)
    return [
        f"Replay: web instances {min(counts)}..{max(counts)} (mean {mean:.2f}), {actions} scaling action(s),"
        f" peak CPU {max(m.cpu_pct for m in minutes):.1f} %,"
        f" {run.replay.saturated_minutes} minute(s) with load beyond the serving capacity",
    ]


def hourly_table(run: CostRun) -> list[str]:
    """Per hour: mean load, the most instances billed, the highest CPU."""
    lines = ["  hour  load req/s  instances  CPU %"]
    minutes = run.replay.minutes
    for start in range(0, len(minutes), 60):
        hour = minutes[start : start + 60]
        load = math.fsum(m.load_rps for m in hour) / len(hour)
        lines.append(
            f"  {start // 60:>4}  {load:>10,.1f}  {max(m.launched for m in hour):>9}"
            f"  {max(m.cpu_pct for m in hour):>5.1f}"
        )
    return lines


def bills(run: CostRun) -> list[str]:
    """The two monthly bills side by side, per component, with the saving and the budget."""
    a, f = run.autoscaled, run.fixed
    rows = [
        ("instance-hours", f"{a.instance_hours:,.0f}", f"{f.instance_hours:,.0f}"),
        *((_label(name, run), _money(a.components[name]), _money(f.components[name])) for name in a.components),
        ("total", _money(a.total), _money(f.total)),
    ]
    width = max(len(r[0]) for r in rows)
    title = f"Monthly bill ({HOURS_PER_MONTH:g} h)"
    lines = [f"{title:<{width + 2}}  {'autoscaled':>12}  {f.label:>22}"]
    lines += [f"  {label:<{width}}  {left:>12}  {right:>22}" for label, left, right in rows]
    saving = f.total - a.total
    share = 100 * saving / f.total if f.total else 0.0
    verdict = "within" if a.total <= run.budget else "OVER"
    budget = f"MONTHLY_BUDGET_USD {_money(run.budget)}"
    lines.append(f"Saving: {_money(saving)} a month ({share:.0f} %); autoscaled is {verdict} {budget}")
    return lines


def _label(component: str, run: CostRun) -> str:
    if component.endswith("instances"):
        return f"{component} (${run.instance_price:g}/h)"
    if component == "bandwidth":
        return (
            f"bandwidth ({run.bandwidth_gb:,.0f} GB, {run.bytes_per_response / 1000:,.1f} kB/response,"
            f" ${run.bandwidth_price:g}/GB)"
        )
    return component


def render(run: CostRun, *, hourly: bool = False) -> str:
    """The whole report."""
    lines = [*headline(run), "", *replay_summary(run)]
    if hourly:
        lines += hourly_table(run)
    lines += ["", *bills(run)]
    return "\n".join(lines)
