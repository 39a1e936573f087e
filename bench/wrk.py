"""wrk, the load tool: installed from Debian when missing, run pinned to its own core, read back as JSON."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.scenarios import LUA_DIR
from bench.servers import die_with_parent, pinned

_MARKER = "BENCH_JSON "


class WrkMissingError(RuntimeError):
    """wrk is not installed and this process cannot install it."""


def ensure_wrk() -> str:
    """The path of `wrk`, running `apt-get install -y wrk` (after `apt-get update` if needed) as root."""
    if found := shutil.which("wrk"):
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise WrkMissingError(
            "wrk (the HTTP load tool) is not installed. Install it with `sudo apt-get install -y wrk`"
            " (or your system's package manager), then run `make bench` again."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("Installing wrk: apt-get install -y wrk ...", flush=True)
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, check=False, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, stdout=subprocess.DEVNULL)
        subprocess.run(install, env=env, check=True, stdout=subprocess.DEVNULL)
    if found := shutil.which("wrk"):
        return found
    raise WrkMissingError("apt-get installed wrk but it is not on PATH")


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].split(" [")[0] if (out.stdout or out.stderr) else "?"


@dataclass(frozen=True)
class WrkRun:
    """One wrk run as the Lua done() reported it."""

    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_us: dict[str, float]
    counters: dict[str, int]

    @property
    def rps(self) -> float:
        """Successful (< 400) responses per second: an error answered fast is not throughput."""
        ok = self.requests - self.errors.get("status", 0)
        return ok / self.duration_s if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        # wrk's "status" errors are answers >= 400; the others are socket errors and timeouts.
        return sum(self.errors.values())

    @property
    def hit_rate_pct(self) -> float | None:
        hits, misses = self.counters.get("hits", 0), self.counters.get("misses", 0)
        return round(100 * hits / (hits + misses), 2) if hits + misses else None

    def summary(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 1),
            "all_rps": round(self.requests / self.duration_s, 1) if self.duration_s else 0.0,
            "p50_ms": round(self.latency_us["p50"] / 1000, 3),
            "p90_ms": round(self.latency_us["p90"] / 1000, 3),
            "p99_ms": round(self.latency_us["p99"] / 1000, 3),
            "max_ms": round(self.latency_us["max"] / 1000, 3),
            "errors": self.error_count,
            "error_kinds": self.errors,
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            # counted by the Lua response() where a scenario installs it (see common.lua)
            "statuses": {k: v for k, v in self.counters.items() if k[0] == "s" or k == "bad_status"}
            if any(self.counters.get(k) for k in ("s2xx", "s3xx", "s4xx", "s5xx"))
            else None,
            "hit_rate_pct": self.hit_rate_pct,
        }


def run_wrk(
    wrk: str,
    script: Path,
    url: str,
    *,
    seconds: int,
    connections: int,
    env: Mapping[str, str],
    log_path: Path,
    cpu: int | None,
) -> WrkRun:
    """Run one wrk (one thread, `connections` connections) and parse the JSON line its done() prints."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "2s", "--latency", "-s", str(script), url]
    proc = subprocess.Popen(
        pinned(command, cpu),
        env={**os.environ, **env, "BENCH_LUA_DIR": str(LUA_DIR)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - it only calls prctl
    )
    try:
        output, _ = proc.communicate(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with log_path.open("a") as log:
        log.write(f"$ {' '.join(command)}\n{output}\n")
    for line in output.splitlines():
        if line.startswith(_MARKER):
            data = json.loads(line.removeprefix(_MARKER))
            return WrkRun(
                requests=data["requests"],
                duration_s=data["duration_us"] / 1e6,
                errors=data["errors"],
                latency_us=data["latency_us"],
                counters=data["counters"],
            )
    print(output[-2000:], file=sys.stderr)
    raise RuntimeError(f"wrk exited with {proc.returncode} and no summary line (see {log_path})")
