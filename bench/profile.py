"""`python -m bench --profile DIR`: a flame graph of the server for each measured run, with py-spy.

py-spy samples the server's processes (the Granian master and its worker) from outside, without pausing them
(`--nonblocking`), 250 times a second for as long as the measured run lasts, on the load's core, and writes
`DIR/<scenario>.svg` (open it in a browser: the widest frames are where the worker's time goes). It needs
ptrace rights over the server (root, or `kernel.yama.ptrace_scope=0`); where py-spy is missing or not
allowed, the run goes on without the graph and says why.
"""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.servers import ROOT, pinned

RATE_HZ = 250


def py_spy() -> str | None:
    """The py-spy next to this interpreter (the dev extras install it), or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextmanager
def flame_graph(pid: int, seconds: int, output: Path | None, cpu: int | None) -> Iterator[None]:
    """Sample `pid` and its children for `seconds` into the SVG `output` (nothing when `output` is None)."""
    binary = py_spy() if output is not None else None
    if output is None or binary is None:
        if output is not None:
            print("    (no flame graph: py-spy is not installed; `pip install py-spy`)", flush=True)
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [binary, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", str(RATE_HZ),
               "--duration", str(seconds), "--format", "flamegraph", "--output", str(output)]  # fmt: skip
    proc = subprocess.Popen(pinned(command, cpu), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        try:
            _, err = proc.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode == 0 and output.exists():
            # The command lines in the graph name this checkout's path: the graph is shared, the path is not.
            output.write_text(output.read_text().replace(f"{ROOT}/", ""))
            print(f"    flame graph: {output}", flush=True)
        else:
            reason = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            print(f"    (no flame graph: py-spy said: {reason[0]})", flush=True)
