"""The soak's chart: throughput and p99 per minute, RSS and open descriptors per Folio process, over time."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # a file, no display

import matplotlib.pyplot as plt
from matplotlib.axes import Axes


def _minutes_axis(document: Mapping[str, Any]) -> tuple[list[float], list[float], list[float]]:
    """(the minutes' edges in minutes since the start, each minute's req/s, each minute's p99 ms)."""
    rows = document["minutes"]
    edges = [row["start_s"] / 60 for row in rows] + [(rows[-1]["start_s"] + rows[-1]["duration_s"]) / 60]
    return edges, [row["rps"] for row in rows], [row["p99_ms"] for row in rows]


def _per_process(document: Mapping[str, Any], field: str) -> dict[str, tuple[list[float], list[float]]]:
    series: dict[str, tuple[list[float], list[float]]] = {}
    for sample in document["samples"]:
        for name, figures in sample["processes"].items():
            times, values = series.setdefault(name, ([], []))
            times.append(sample["at_s"] / 60)
            values.append(figures[field])
    return series


def _warmup(ax: Axes, document: Mapping[str, Any]) -> None:
    if document.get("warmup_s"):
        ax.axvspan(0, document["warmup_s"] / 60, color="0.9", label="warm-up")
    ax.grid(True, alpha=0.3)


def write_chart(document: Mapping[str, Any], path: Path) -> None:
    """Four panels sharing the time axis (minutes since the load started), written as a PNG to `path`."""
    fig, axes = plt.subplots(4, 1, figsize=(10, 12), sharex=True, constrained_layout=True)
    edges, rps, p99 = _minutes_axis(document)
    settings = document["settings"]
    fig.suptitle(
        f"Folio soak: {settings['minutes']} min at {settings['fraction']:.0%} of the measured capacity"
        f" ({document['offered_rps']:,.0f} req/s offered), {settings['streams']} live streams,"
        f" reports and webhooks",
        fontsize=12,
    )
    for ax, label, values in ((axes[0], "throughput (req/s)", rps), (axes[1], "p99 latency (ms)", p99)):
        _warmup(ax, document)
        ax.stairs(values, edges, baseline=None, linewidth=2, label="mixed load, per minute")
        ax.set_ylabel(label)
    axes[0].axhline(document["offered_rps"], color="0.4", linestyle="--", linewidth=1, label="offered")
    for ax, label, field in ((axes[2], "resident memory (MB)", "rss_mb"), (axes[3], "open file descriptors", "fds")):
        _warmup(ax, document)
        for name, (xs, ys) in _per_process(document, field).items():
            ax.plot(xs, ys, marker="o", markersize=3, label=name)
        ax.set_ylabel(label)
    for ax in axes:
        ax.set_ylim(0, ax.get_ylim()[1] * 1.15)  # room above the lines for the legend
        ax.legend(loc="upper left", fontsize=8, ncols=5)
    axes[-1].set_xlabel("minutes since the load started")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
