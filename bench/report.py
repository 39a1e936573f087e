"""The figures: the table on stdout, the README table, and the JSON file with the machine they came from."""

import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.scenarios import SAME_SIZE_CEILINGS, SCENARIOS
from bench.servers import ROOT

PACKAGES = ("litestar", "granian", "msgspec", "psycopg", "valkey", "uvloop")


def machine_info(wrk_version: str) -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
        "wrk": wrk_version,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def add_ceiling_fractions(results: dict[str, dict[str, Any]]) -> None:
    """Each scenario's req/s as a % of each ceiling's measured in the same run: the Litestar handler's
    (`pct_of_ceiling`) and raw ASGI's (`pct_of_raw`), None when that ceiling did not run. A scenario named
    in SAME_SIZE_CEILINGS is set against the ceilings of its own body's size."""
    for name, result in results.items():
        if "rps" not in result:
            continue
        ceilings = SAME_SIZE_CEILINGS.get(name, ("ceiling", "raw_ceiling"))
        for key, ceiling in zip(("pct_of_ceiling", "pct_of_raw"), ceilings, strict=True):
            rps = results.get(ceiling, {}).get("rps")
            result[key] = round(100 * result["rps"] / rps, 1) if rps else None


def _fmt(value: Any, spec: str = "") -> str:
    return "n/a" if value is None else format(value, spec)


def scenario_table(results: Mapping[str, Mapping[str, Any]], *, markdown: bool = False) -> str:
    head = (
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "% of raw ASGI",
        "% of Litestar",
        "server CPU %",
        "other CPU %",
    )
    rows = []
    for scenario in SCENARIOS:
        r = results.get(scenario.name)
        if r is None:
            continue
        errors = str(r["errors"])
        if r["errors"] and not markdown:
            errors += f" ({_describe_errors(r)})"
        cpu = r.get("cpu", {})
        rows.append((scenario.name, _fmt(r["rps"], ",.0f"), _fmt(r["p50_ms"], ".2f"), _fmt(r["p99_ms"], ".2f"),
                     errors, _fmt(r.get("pct_of_raw"), ".1f"), _fmt(r.get("pct_of_ceiling"), ".1f"),
                     _fmt(cpu.get("server_pct"), ".0f"), _fmt(cpu.get("other_pct"), ".0f")))  # fmt: skip
    return _render(head, rows, markdown)


def _describe_errors(result: Mapping[str, Any]) -> str:
    kinds = [f"{k} {v}" for k, v in result["error_kinds"].items() if v]
    bad = (result["statuses"] or {}).get("bad_status")
    return ", ".join(kinds) + (f", last HTTP {bad}" if bad else "")


def targets_table(rows: list[dict[str, Any]], *, markdown: bool = False) -> str:
    body = [(row["target"], _fmt(row["measured"], ",.2f"), row["status"]) for row in rows]
    return _render(("target", "measured", ""), body, markdown)


def sizes_table(sizes: Mapping[str, Any], *, markdown: bool = False) -> str:
    rows = []
    for encoding in ("identity", "gzip", "br", "zstd"):
        entry = sizes.get(encoding)
        if not isinstance(entry, dict):
            continue
        if entry.get("status") != 200:
            rows.append((encoding, f"HTTP {entry.get('status')}", "", ""))
            continue
        rows.append((encoding, entry["content_encoding"], f"{entry['bytes']:,}", _fmt(entry["saved_pct"], ".1f")))
    return _render(("Accept-Encoding", "Content-Encoding", "bytes", "% saved"), rows, markdown)


def ticking_table(ticking: Mapping[str, Any], *, markdown: bool = False) -> str:
    rows = []
    for coding in ("gzip", "br", "zstd"):
        e = ticking.get(coding)
        if isinstance(e, dict):
            rows.append((coding, str(e["level"]), f"{e['bytes']:,}", f"{e['pct_median']:.2f}", f"{e['pct_max']:.2f}",
                         f"{e['compress_ms']:.0f}", f"{e['at_document_level']}/{ticking['samples']}"))  # fmt: skip
    head = ("coding", "level", "bytes", "% of identity", "worst %", "CPU ms/version", "sent at that level")
    return _render(head, rows, markdown)


def streams_table(streams: Mapping[str, Mapping[str, Any]], *, markdown: bool = False) -> str:
    columns = (("open", "open", ","), ("events", "events", ","), ("ingest p50 ms", "ingest_p50_ms", ".1f"),
               ("lag p50 ms", "lag_p50_ms", ".1f"), ("lag p99 ms", "lag_p99_ms", ".1f"),
               ("after answer p99 ms", "after_answer_p99_ms", ".1f"), ("server CPU %", "server_cpu_pct", ".1f"),
               ("KB/stream", "rss_per_stream_kb", ".1f"), ("generator CPU %", "loader_cpu_pct", ".1f"),
               ("generator loop p99 ms", "loader_loop_delay_p99_ms", ".1f"),
               ("load avg", "load_average_1m", ""))  # fmt: skip
    rows = [
        (f"{r['streams']:,}", *(_fmt(r.get(key), spec) for _, key, spec in columns))
        if "error" not in r else (name, r["error"], *("" for _ in columns[1:]))
        for name, r in streams.items()
    ]  # fmt: skip
    return _render(("streams", *(title for title, _, _ in columns)), rows, markdown)


def compare_table(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """AFTER / BEFORE per scenario both ran: req/s (above 1 is faster), p50 and p99 (below 1 is faster), and
    the share of the raw ceiling in each run, the figure a noisy machine moves least."""
    head = ("scenario", "req/s before", "req/s after", "req/s ratio", "p50 ratio", "p99 ratio", "% of raw before",
            "% of raw after")  # fmt: skip
    rows = []
    a, b = before.get("scenarios", {}), after.get("scenarios", {})
    for scenario in SCENARIOS:
        x, y = a.get(scenario.name), b.get(scenario.name)
        if x is None or y is None:
            continue
        rows.append((scenario.name, _fmt(x["rps"], ",.0f"), _fmt(y["rps"], ",.0f"), _ratio(y["rps"], x["rps"]),
                     _ratio(y["p50_ms"], x["p50_ms"]), _ratio(y["p99_ms"], x["p99_ms"]),
                     _fmt(x.get("pct_of_raw"), ".1f"), _fmt(y.get("pct_of_raw"), ".1f")))  # fmt: skip
    dates = f"before: {before.get('date')} ({_commit(before)}), after: {after.get('date')} ({_commit(after)})"
    return dates + "\n" + _render(head, rows, False)


def _ratio(new: float | None, old: float | None) -> str:
    return f"{new / old:.3f}" if new is not None and old else "n/a"


def _commit(report: Mapping[str, Any]) -> str:
    machine = report.get("machine", {})
    return f"{machine.get('git_commit', '?')}{' dirty' if machine.get('git_dirty') else ''}"


def _render(head: tuple[str, ...], rows: Sequence[tuple[str, ...]], markdown: bool) -> str:
    if markdown:
        lines = [head, tuple("---" for _ in head), *rows]
        return "\n".join("| " + " | ".join(row) + " |" for row in lines)
    widths = [max(len(str(row[i])) for row in (head, *rows)) for i in range(len(head))]
    lines = [head, tuple("-" * w for w in widths), *rows]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in lines)


def print_report(report: Mapping[str, Any], *, markdown: bool = False) -> None:
    results = report["scenarios"]
    print(scenario_table(results, markdown=markdown))
    hit_rates = {name: r["hit_rate_pct"] for name, r in results.items() if r.get("hit_rate_pct") is not None}
    print("\ncache hit rate (X-Cache): " + (", ".join(f"{k} {v:.1f}%" for k, v in hit_rates.items()) or "n/a"))
    if report.get("portfolio_body_bytes"):
        print(f"portfolio body (median, identity): {report['portfolio_body_bytes']:,} bytes")
    if report.get("market_data_sizes"):
        print("\nGET /api/market-data sizes:\n" + sizes_table(report["market_data_sizes"], markdown=markdown))
    ticking = report.get("market_data_ticking")
    if ticking:
        first, low, high = ticking["versions"]
        print(f"\nGET /api/market-data while quotes tick (versions {low}-{high}, from {low - first} after the"
              f" simulator started; {ticking['identity_bytes']:,} bytes identity; all codings"
              f" {ticking['compress_ms_per_version']:.0f} ms of CPU per version):\n"
              + ticking_table(ticking, markdown=markdown))  # fmt: skip
    streams = {name: r for name, r in report.items() if name.startswith("streams_") and isinstance(r, dict)}
    if streams:
        moved = next(iter(streams.values())).get("tick_fraction", 0.1)
        print(f"\nlive streams, one web process, one stream per user, {moved:.0%} of the equities moving each second:\n"
              + streams_table(streams, markdown=markdown))  # fmt: skip
    print("\n" + targets_table(report["targets"], markdown=markdown))


def write_json(report: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
