"""Valkey's limit: the product's own operations at saturation, through the product's own client.

Each operation runs twice against the server pinned to its own core: as the product issues it (many calls in
flight through the shared client, one command each), then pipelined: the commands the product sent, as MONITOR
saw them, sent again in pipelines by the same client, so the server rather than this one-core Python load is
the bottleneck. The server's CPU during each run says which it was.
"""

import asyncio
import contextlib
import hashlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psutil
import valkey.asyncio as avalkey

from bench.shared_figures import per_core, saturated
from config.wiring.shared_parts import SharedParts
from domain.errors import UnavailableError
from domain.models.invalidations import HoldingsChanged

CONCURRENCY = 64  # calls in flight through the product's client (its pool holds as many connections)
PIPELINES = 8  # pipelines in flight ...
DEPTH = 64  # ... of this many commands each
CAPTURED = 256  # distinct commands captured per operation (different users)
RATE_LIMIT_TTL_S = 120
TOP_LEVEL = ("EVALSHA", "EVAL", "PUBLISH", "SPUBLISH")

Operation = Callable[[int], Awaitable[bool]]  # one call for a user; False when it did not do its work


@dataclass(frozen=True)
class Rate:
    operation: str
    path: str  # "product" (one command per call) or "pipelined"
    ops: int
    errors: int
    seconds: float
    server_cpu_pct: float  # of one core
    load_cpu_pct: float  # this process, the client
    other_cpu_pct: float  # neither the server nor this process: a busy machine

    def figures(self) -> dict[str, Any]:
        rate = self.ops / self.seconds if self.seconds else 0.0
        core = per_core(rate, self.server_cpu_pct)
        return {
            "operation": self.operation,
            "path": self.path,
            "ops_per_s": round(rate),
            "errors": self.errors,
            "server_cpu_pct": self.server_cpu_pct,
            "server_saturated": saturated(self.server_cpu_pct),
            "ops_per_server_core_s": round(core) if core is not None else None,
            "load_cpu_pct": self.load_cpu_pct,
            "other_cpu_pct": self.other_cpu_pct,
        }


def operations(parts: SharedParts) -> dict[str, Operation]:
    """The product's own Valkey operations, each for one user."""

    async def read_hit(user_id: int) -> bool:
        holdings, _, leads = await parts.cache.read_or_lead(user_id)
        if leads:  # a miss took the fill lease: give it back
            await parts.cache.end_fill(user_id)
        return holdings is not None

    async def rate_limit(user_id: int) -> bool:
        digest = hashlib.blake2b(f"user:{user_id}".encode(), digest_size=12).hexdigest()
        try:
            await parts.rate_limits.add([(digest, int(time.time()) // 60, 1)], RATE_LIMIT_TTL_S)
        except UnavailableError:
            return False
        return True

    async def publish(user_id: int) -> bool:
        await parts.bus.broadcast(HoldingsChanged(user_id=user_id))
        return True

    return {"cache read (hit)": read_hit, "rate-limit sync": rate_limit, "invalidation publish": publish}


async def cached_users(parts: SharedParts, candidates: Sequence[int], wanted: int) -> list[int]:
    """Users whose holdings the cache holds now (the mix's run filled it), at most `wanted`."""
    found = []
    for user_id in candidates:
        holdings, _, leads = await parts.cache.read_or_lead(user_id)
        if leads:
            await parts.cache.end_fill(user_id)
        if holdings is not None:
            found.append(user_id)
            if len(found) == wanted:
                break
    return found


async def product_rate(name: str, op: Operation, users: Sequence[int], seconds: float, server_pid: int) -> Rate:
    """`CONCURRENCY` callers each calling `op` in turn over `users` for `seconds`."""
    cycle = itertools.cycle(users)
    counts = {"ops": 0, "errors": 0}
    stop_at = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < stop_at:
            ok = await op(next(cycle))
            counts["ops" if ok else "errors"] += 1

    with Cores(server_pid) as cpu:
        started = time.monotonic()
        await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
        elapsed = time.monotonic() - started
    return _rate(name, "product", counts, elapsed, cpu)


async def capture(url: str, op: Operation, users: Sequence[int]) -> list[list[str]]:
    """The top-level commands `op` sends for each of `users`, as the server received them (MONITOR, on a client
    of its own: the product's short command timeout is for answers, not for a stream that waits on the load)."""
    for user_id in users[:4]:  # scripts loaded before capturing: no NOSCRIPT round trip in the sample
        await op(user_id)
    commands: list[list[str]] = []
    watcher = avalkey.Valkey.from_url(url, socket_timeout=10)
    try:
        async with watcher.monitor() as monitor:
            calls = asyncio.ensure_future(_each(op, users))
            try:
                while len(commands) < len(users):
                    seen = await asyncio.wait_for(monitor.next_command(), 5)
                    if seen["client_type"] != "lua" and seen["command"].split(" ", 1)[0].upper() in TOP_LEVEL:
                        commands.append(split_command(seen["command"]))
            except TimeoutError as e:
                raise RuntimeError("the operation sent Valkey nothing for 5 s (its circuit open?)") from e
            finally:
                await calls
    finally:
        await watcher.aclose()
    return commands


def split_command(command: str) -> list[str]:
    """MONITOR's space-joined command as arguments (a published message keeps its spaces: it is the last)."""
    name = command.split(" ", 1)[0].upper()
    if name in ("PUBLISH", "SPUBLISH"):
        return command.split(" ", 2)
    return command.split(" ")


async def _each(op: Operation, users: Sequence[int]) -> None:
    for user_id in users:
        await op(user_id)


async def pipelined_rate(
    name: str, client: avalkey.Valkey, commands: Sequence[Sequence[str]], seconds: float, server_pid: int
) -> Rate:
    """`commands` again and again, `DEPTH` at a time on each of `PIPELINES` of the client's connections, for
    `seconds`. Each batch is encoded once (by the client's own connection) and its replies parsed one by one by
    the client's parser: the Python side costs a few microseconds a command, so the server can be the limit."""
    counts = {"ops": 0, "errors": 0}
    stop_at = time.monotonic() + seconds
    pool: Any = client.connection_pool  # valkey-py leaves the pool's methods unannotated

    async def sender(offset: int) -> None:
        connection = await pool.get_connection("EVALSHA")
        try:
            batch = list(itertools.islice(itertools.cycle(commands), offset * DEPTH, (offset + 1) * DEPTH))
            packed = connection.pack_commands(batch)
            while time.monotonic() < stop_at:
                await connection.send_packed_command(packed, check_health=False)
                for _ in batch:
                    try:
                        await connection.read_response(disable_decoding=True)
                    except avalkey.ResponseError:  # an error reply, read in full: the next one follows
                        counts["errors"] += 1
                    else:
                        counts["ops"] += 1
        finally:
            await pool.release(connection)

    with Cores(server_pid) as cpu:
        started = time.monotonic()
        await asyncio.gather(*(sender(i) for i in range(PIPELINES)))
        elapsed = time.monotonic() - started
    return _rate(name, "pipelined", counts, elapsed, cpu)


def _rate(name: str, path: str, counts: dict[str, int], elapsed: float, cpu: "Cores") -> Rate:
    return Rate(name, path, counts["ops"], counts["errors"], elapsed, cpu.server_pct, cpu.load_pct, cpu.other_pct)


def tree_cpu_s(root: psutil.Process) -> float:
    """CPU seconds of `root` and its descendants, those that ended included (a PostgreSQL backend's time goes
    to the postmaster's children's times when it exits)."""
    total = 0.0
    for proc in (root, *root.children(recursive=True)):
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


class Cores:
    """`with Cores(server_pid) as cpu:` the server's (its process tree), this process's (the load's, its own
    threads) and the rest of the machine's CPU during the block, each in % of one core."""

    def __init__(self, server_pid: int, *, settle_s: float = 0.0) -> None:
        self._server = psutil.Process(server_pid)
        # A server whose worker processes end with the load (PostgreSQL's backends) is read again `settle_s` after
        # the block: an ended process's time reaches its parent's only once the parent has reaped it.
        self._settle_s = settle_s
        self.server_pct = self.load_pct = self.other_pct = 0.0
        self.server_s = 0.0  # the server's CPU seconds in the block
        self.wall_s = 0.0

    @staticmethod
    def _rest() -> tuple[float, float, float]:
        """(now, this process's CPU seconds, the machine's busy seconds over all cores)."""
        own = os.times()
        busy = psutil.cpu_times()
        return time.monotonic(), own.user + own.system, busy.user + busy.nice + busy.system + busy.irq + busy.softirq

    def __enter__(self) -> "Cores":
        self._start = (tree_cpu_s(self._server), *self._rest())
        return self

    def __exit__(self, *exc_info: object) -> None:
        (server0, t0, load0, machine0), (t1, load1, machine1) = self._start, self._rest()
        time.sleep(self._settle_s)
        self.server_s = tree_cpu_s(self._server) - server0
        wall = self.wall_s = t1 - t0
        self.server_pct = round(self.server_s / wall * 100, 1)
        self.load_pct = round((load1 - load0) / wall * 100, 1)
        rest = (machine1 - machine0) - self.server_s - (load1 - load0)
        self.other_pct = round(max(rest, 0.0) / wall * 100, 1)


async def measure_valkey(
    parts: SharedParts, client: avalkey.Valkey, url: str, server_pid: int, seconds: float, candidates: Sequence[int]
) -> list[Rate]:
    """Each operation through the product's path, then pipelined; the hit users come from the cache as it is."""
    users = await cached_users(parts, candidates, CAPTURED)
    if not users:
        raise RuntimeError("the cache held no user's holdings after the mix: nothing to read on a hit")
    rates = []
    for name, op in operations(parts).items():
        rates.append(await product_rate(name, op, users, seconds, server_pid))
        commands = await capture(url, op, users)
        rates.append(await pipelined_rate(name, client, commands, seconds, server_pid))
        print(f"    {name}: {_line(rates[-2])}; pipelined {_line(rates[-1])}", flush=True)
    return rates


def _line(rate: Rate) -> str:
    figures = rate.figures()
    return f"{figures['ops_per_s']:,} ops/s at {rate.server_cpu_pct:.0f} % of Valkey's core"


@contextlib.asynccontextmanager
async def on_core(cpu: int | None) -> AsyncIterator[None]:
    """Run this process (the load) on `cpu` for the block, then where it ran before."""
    if cpu is None:
        yield
        return
    me = psutil.Process()
    before = me.cpu_affinity()
    me.cpu_affinity([cpu])
    try:
        yield
    finally:
        me.cpu_affinity(before)
