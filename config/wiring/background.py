"""Background tasks that live as long as a role's services: started in, and stopped by, its exit stack."""

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("folio.wiring")

TASK_STOP_TIMEOUT_S = 2.0
CANCEL_AGAIN_S = 0.1


def run_in_background(stack: contextlib.AsyncExitStack, work: Coroutine[Any, Any, None], name: str) -> None:
    """Run `work` until the stack closes; then cancel it, without letting a stuck task hang the shutdown."""
    stack.push_async_callback(_cancel, asyncio.create_task(work, name=name))


async def _cancel(task: asyncio.Task[None]) -> None:
    # Cancel again while it runs: on Python 3.11, `asyncio.wait_for` inside a driver can swallow one
    # cancellation that lands as its command completes (CPython gh-86296), and the task runs on.
    deadline = asyncio.get_running_loop().time() + TASK_STOP_TIMEOUT_S
    done: set[asyncio.Task[None]] = set()
    while not done and (left := deadline - asyncio.get_running_loop().time()) > 0:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=min(left, CANCEL_AGAIN_S))
    if not done:
        log.warning("background task %s did not stop within %ss", task.get_name(), TASK_STOP_TIMEOUT_S)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("background task %s had failed: %r", task.get_name(), task.exception())
