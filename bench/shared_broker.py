"""RabbitMQ's limit: report enqueues through the product's publisher (confirmed, persistent, as the web sends
them), then consume and ack as a worker does, with the broker pinned to its own core.

The broker is Debian's `rabbitmq-server`, run as the suite runs it (its own node, ports and data directory);
where it is missing and cannot be installed, the caller prints why and skips this part.
"""

import asyncio
import contextlib
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import aiormq
import psutil
from pamqp.commands import Basic

from bench.shared_figures import both_ways, per_core, saturated
from bench.shared_valkey import CONCURRENCY, Cores
from config.queues import REPORTS_QUEUE
from config.wiring.shared_parts import SharedParts
from tests.rabbitmq import RabbitMQServer, install_rabbitmq

PREFETCH = 64  # unacknowledged messages per consumer: a few workers' worth


def start_broker(data_dir: Path) -> RabbitMQServer | str:
    """A running node, or the reason there is none."""
    if reason := install_rabbitmq():
        return f"rabbitmq-server is not installed ({reason})"
    server = RabbitMQServer(data_dir)
    try:
        server.start()
    except RuntimeError as e:
        server.close()
        return f"rabbitmq-server did not start: {str(e)[:300]}"
    return server


def broker_pid(server: RabbitMQServer) -> int:
    """The node's Erlang VM: the process listening on its AMQP port (its helpers are its children)."""
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == server.port and conn.pid:
            return int(conn.pid)
    raise RuntimeError(f"no process listens on the broker's port {server.port}")


def pin_tree(pid: int, cpu: int | None) -> None:
    """Every thread of `pid` and its descendants onto `cpu` (children forked later inherit it)."""
    if cpu is None:
        return
    root = psutil.Process(pid)
    for proc in (root, *root.children(recursive=True)):
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(proc.pid)], capture_output=True, check=False)


async def publish_rate(parts: SharedParts, seconds: float, server_pid: int) -> dict[str, Any]:
    """`CONCURRENCY` callers enqueueing reports through the product's queue for `seconds`."""
    counts = {"ops": 0, "errors": 0}
    stop_at = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < stop_at:
            try:
                await parts.reports.send(str(uuid.uuid4()))
            except Exception:  # noqa: BLE001 - UnavailableError and whatever else: counted, the run goes on
                counts["errors"] += 1
            else:
                counts["ops"] += 1

    with Cores(server_pid) as cpu:
        started = time.monotonic()
        await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
        elapsed = time.monotonic() - started
    return _figures("publish (confirmed, persistent)", counts, elapsed, cpu)


async def consume_rate(url: str, expected: int, seconds: float, server_pid: int) -> dict[str, Any]:
    """Consume and ack the report queue (prefetch `PREFETCH`) until `expected` messages or `seconds`."""
    counts = {"ops": 0, "errors": 0}
    drained = asyncio.Event()
    connection = await aiormq.connect(url)
    try:
        channel = await connection.channel()
        await channel.basic_qos(prefetch_count=PREFETCH)

        async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
            tag = message.delivery.delivery_tag if isinstance(message.delivery, Basic.Deliver) else None
            if tag is None:
                return
            await channel.basic_ack(tag)
            counts["ops"] += 1
            if counts["ops"] >= expected:
                drained.set()

        with Cores(server_pid) as cpu:
            started = time.monotonic()
            await channel.basic_consume(REPORTS_QUEUE, on_message)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drained.wait(), seconds)
            elapsed = time.monotonic() - started
    finally:
        await connection.close()
    return _figures("consume + ack", counts, elapsed, cpu)


def _figures(name: str, counts: dict[str, int], elapsed: float, cpu: Cores) -> dict[str, Any]:
    rate = counts["ops"] / elapsed if elapsed else 0.0
    core = per_core(rate, cpu.server_pct)
    return {
        "operation": name,
        "messages": counts["ops"],
        "errors": counts["errors"],
        "msgs_per_s": round(rate),
        "server_cpu_pct": cpu.server_pct,
        "server_saturated": saturated(cpu.server_pct),
        "msgs_per_server_core_s": round(core) if core is not None else None,
        "load_cpu_pct": cpu.load_pct,
        "other_cpu_pct": cpu.other_pct,
    }


async def measure_broker(parts: SharedParts, url: str, seconds: float, server_pid: int) -> dict[str, Any]:
    published = await publish_rate(parts, seconds, server_pid)
    print(
        f"    publish: {published['msgs_per_s']:,} msgs/s at {published['server_cpu_pct']:.0f} % of its core",
        flush=True,
    )
    consumed = await consume_rate(url, published["messages"], seconds * 3, server_pid)
    print(f"    consume + ack: {consumed['msgs_per_s']:,} msgs/s at {consumed['server_cpu_pct']:.0f} % of its core")
    through = both_ways(published["msgs_per_server_core_s"], consumed["msgs_per_server_core_s"])
    return {
        "publish": published,
        "consume": consumed,
        "msgs_through_per_server_core_s": round(through) if through is not None else None,
    }
