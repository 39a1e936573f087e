"""The cost model: a traffic profile replayed through the autoscaling policy, then priced.

The fleet is the one `domain.scaling.Autoscaler` the service itself uses. CPU per instance is modelled
as load / (serving instances x capacity): at the bench's throughput an instance's core(s) are full, and
the work per request is the same at any rate. Memory is flat (it is bounded by the in-process cache's
size, not by the request rate). A new instance is billed from its launch and serves after `boot_s`.
"""

import math
from collections.abc import Sequence

import msgspec

from domain.scaling import Autoscaler, ScalingPolicy

MINUTE_S = 60.0
HOURS_PER_MONTH = 730.0  # the cloud providers' billing month (8,760 h / 12)
BYTES_PER_GB = 1e9


class Minute(msgspec.Struct, frozen=True, kw_only=True):
    """One replayed minute: the load, the fleet after the decision, and what the policy saw."""

    minute: int
    load_rps: float
    cpu_pct: float  # mean over the instances that served this minute
    launched: int  # billed instances after this minute's decision
    serving: int  # instances that were ready during this minute
    desired: int
    overflow_rps: float  # load beyond the serving instances' full capacity


class Replay(msgspec.Struct, frozen=True, kw_only=True):
    """The replayed profile and its totals."""

    minutes: list[Minute]
    capacity_rps: float  # one instance at 100 % CPU

    @property
    def instance_hours(self) -> float:
        """Instance-hours billed over the profile."""
        return math.fsum(m.launched for m in self.minutes) * MINUTE_S / 3600

    @property
    def peak_instances(self) -> int:
        return max(m.launched for m in self.minutes)

    @property
    def saturated_minutes(self) -> int:
        return sum(1 for m in self.minutes if m.overflow_rps > 0)


def cpu_pct(load_rps: float, serving: int, capacity_rps: float) -> float:
    """Mean CPU of the serving instances: the share of their capacity the load takes, at most 100 %."""
    if serving <= 0:
        return 100.0 if load_rps > 0 else 0.0
    return min(100.0, 100.0 * load_rps / (serving * capacity_rps))


def replay(
    policy: ScalingPolicy,
    requests_per_minute: Sequence[float],
    capacity_rps: float,
    *,
    memory_pct: float,
    boot_s: float = 0.0,
) -> Replay:
    """Observe the fleet once a minute through the policy and follow its desired count."""
    if capacity_rps <= 0:
        raise ValueError("the per-instance throughput must be positive")
    scaler = Autoscaler(policy)
    ready_at = [0.0] * policy.min_instances  # the fleet starts at its minimum, ready
    minutes = []
    for index, requests in enumerate(requests_per_minute):
        now = index * MINUTE_S
        load = requests / MINUTE_S
        serving = sum(1 for t in ready_at if t <= now)
        cpu = cpu_pct(load, serving, capacity_rps)
        decision = scaler.observe(now, len(ready_at), {"cpu": cpu, "memory": memory_pct})
        ready_at = resize(ready_at, decision.desired, now + boot_s)
        minutes.append(
            Minute(
                minute=index,
                load_rps=load,
                cpu_pct=cpu,
                launched=len(ready_at),
                serving=serving,
                desired=decision.desired,
                overflow_rps=max(0.0, load - serving * capacity_rps),
            )
        )
    return Replay(minutes=minutes, capacity_rps=capacity_rps)


def resize(ready_at: list[float], desired: int, ready_time: float) -> list[float]:
    """Launch instances that serve from `ready_time`, or stop the newest (the least warm) first."""
    if desired > len(ready_at):
        return ready_at + [ready_time] * (desired - len(ready_at))
    return sorted(ready_at)[:desired]


class Prices(msgspec.Struct, frozen=True, kw_only=True):
    """Prices in US dollars (config/settings.py)."""

    instance_type: str
    instance_per_hour: float
    cache_per_month: float
    database_per_month: float
    bandwidth_per_gb: float


class Bill(msgspec.Struct, frozen=True, kw_only=True):
    """A month's cost by component."""

    label: str
    instance_hours: float  # per month, every process type
    components: dict[str, float]

    @property
    def total(self) -> float:
        return math.fsum(self.components.values())


def monthly_factor(profile_minutes: int) -> float:
    """How many times a profile of this length repeats in a billing month."""
    return HOURS_PER_MONTH * 60 / profile_minutes


def bandwidth_gb(requests_per_minute: Sequence[float], bytes_per_response: float) -> float:
    """GB sent in a month when the profile repeats all month."""
    per_profile = math.fsum(requests_per_minute) * bytes_per_response / BYTES_PER_GB
    return per_profile * monthly_factor(len(requests_per_minute))


def bill(label: str, *, web_hours: float, worker_hours: float, bandwidth: float, prices: Prices) -> Bill:
    """Price a month: instances per hour, cache and database per month, bandwidth per GB."""
    components = {
        "web instances": web_hours * prices.instance_per_hour,
        "worker instances": worker_hours * prices.instance_per_hour,
        "cache": prices.cache_per_month,
        "database": prices.database_per_month,
        "bandwidth": bandwidth * prices.bandwidth_per_gb,
    }
    return Bill(label=label, instance_hours=web_hours + worker_hours, components=components)


def autoscaled_bill(replayed: Replay, *, worker_instances: int, bandwidth: float, prices: Prices) -> Bill:
    """The replayed web fleet, the worker at a fixed count, and the shared services."""
    return bill(
        "autoscaled",
        web_hours=replayed.instance_hours * monthly_factor(len(replayed.minutes)),
        worker_hours=worker_instances * HOURS_PER_MONTH,
        bandwidth=bandwidth,
        prices=prices,
    )


def fixed_bill(instances: int, *, worker_instances: int, bandwidth: float, prices: Prices) -> Bill:
    """A fixed fleet all month (12 by default): the same workers, the rest serving web."""
    if instances <= worker_instances:
        raise ValueError(f"a fixed fleet of {instances} leaves no web instance beside {worker_instances} worker(s)")
    return bill(
        f"fixed {instances} x {prices.instance_type}",
        web_hours=(instances - worker_instances) * HOURS_PER_MONTH,
        worker_hours=worker_instances * HOURS_PER_MONTH,
        bandwidth=bandwidth,
        prices=prices,
    )


def cumulative_instance_cost(
    web_instances: Sequence[int], *, worker_instances: int, price_per_hour: float
) -> list[float]:
    """Dollars spent on instances since the start of the profile, minute by minute (the part scaling changes)."""
    spent, total = [], 0.0
    for count in web_instances:
        total += (count + worker_instances) * price_per_hour / 60
        spent.append(total)
    return spent
