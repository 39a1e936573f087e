"""The cost model's chart: load, instances and cumulative cost over the profile (matplotlib, Agg)."""

from collections.abc import Sequence
from pathlib import Path

import msgspec

from cli.cost.model import Replay


class ChartData(msgspec.Struct, frozen=True, kw_only=True):
    """What the chart shows, computed by the model."""

    replay: Replay
    target_cpu_pct: float
    fixed_web_instances: int
    fixed_label: str
    autoscaled_cost: Sequence[float]
    fixed_cost: Sequence[float]
    title: str


def draw(data: ChartData, path: Path) -> Path:
    """Write a three-panel PNG; matplotlib is imported here only, with the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    minutes = data.replay.minutes
    hours = [m.minute / 60 for m in minutes]
    fig, (load, fleet, cost) = plt.subplots(3, 1, sharex=True, figsize=(10, 9), constrained_layout=True)
    fig.suptitle(data.title)

    target = data.target_cpu_pct / 100 * data.replay.capacity_rps
    load.plot(hours, [m.load_rps for m in minutes], label="load (req/s)", color="tab:blue")
    serving_capacity = [m.serving * target for m in minutes]
    load.step(hours, serving_capacity, where="post", label="capacity at the CPU target", color="tab:orange", ls="--")
    load.set_yscale("log")  # the default day's load is a few % of one instance's capacity: both stay readable
    load.set_ylabel("requests / s (log)")
    load.legend(loc="upper left")

    fleet.step(hours, [m.launched for m in minutes], where="post", label="autoscaled (billed)", color="tab:green")
    fleet.step(hours, [m.serving for m in minutes], where="post", label="serving", color="tab:olive", ls=":")
    fleet.axhline(data.fixed_web_instances, color="tab:red", ls="--", label=data.fixed_label)
    fleet.set_ylabel("web instances")
    fleet.set_ylim(0, max(data.fixed_web_instances, *(m.launched for m in minutes)) * 1.4)
    fleet.legend(loc="upper left")

    cost.plot(hours, list(data.autoscaled_cost), label="autoscaled", color="tab:green")
    cost.plot(hours, list(data.fixed_cost), label="fixed fleet", color="tab:red", ls="--")
    cost.set_ylabel("instance cost so far (USD)")
    cost.set_xlabel("hour of the day")
    cost.legend(loc="upper left")

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
