"""One round trip for many requests: report requests written together (group commit), holdings read together.

`TurnBatch`: a request joins the open group and waits. The group is sent at the end of the turn it was opened in
(a `call_soon`), or, while `max_in_flight` groups are under way already, as soon as one of them is done: under
load the groups grow by themselves, and a lone request waits no longer than one turn. Each request is answered
from its own result, only after its group's round trip returned (so a report's 202 still means a durable row).

`BusyBatch`: a request goes at once, alone, while fewer than `max_in_flight` round trips are under way; beyond
that it waits with the others, and they go as one group when a round trip ends. No request waits for company
when the store is idle (a read on the hot path's rare miss), and under load the groups grow by themselves. A
round trip that fails as a whole fails the waiting requests too, at once: a fault is never waited out twice.
"""

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Flush = Callable[[Sequence[Item]], Awaitable[Sequence[Result | Exception]]]

MAX_GROUP = 256  # requests per write: one statement's parameters stay small
MAX_IN_FLIGHT = 2  # groups written at once: the next one gathers while the database works


def _answer(group: list[tuple[Item, "asyncio.Future[Result]"]], results: Sequence[Result | Exception]) -> None:
    """Each request of a group gets its own result (or its own error)."""
    for (_, future), result in zip(group, results, strict=True):
        if future.done():  # its request went away (a client that disconnected): a report's row stays, as always
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)


class TurnBatch(Generic[Item, Result]):
    def __init__(self, flush: Flush[Item, Result], *, max_group: int = MAX_GROUP, max_in_flight: int = MAX_IN_FLIGHT):
        self._flush = flush
        self._max_group = max_group
        self._max_in_flight = max_in_flight
        self._open: list[tuple[Item, asyncio.Future[Result]]] = []
        self._scheduled = False
        self._writing: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """The item's result, once its group is written; the group's failure if the whole write failed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._open.append((item, future))
        if len(self._open) >= self._max_group:
            self._start()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._start)
        return await future

    def _start(self) -> None:
        self._scheduled = False
        while self._open and len(self._writing) < self._max_in_flight:  # else a write in flight starts it when done
            group, self._open = self._open[: self._max_group], self._open[self._max_group :]
            task = asyncio.get_running_loop().create_task(self._write(group))
            self._writing.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._writing.discard(task)
        if self._open and not self._scheduled:
            self._start()

    async def _write(self, group: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._flush([item for item, _ in group])
        except Exception as e:  # noqa: BLE001 - every request of the group answers with the failure
            for _, future in group:
                if not future.done():
                    future.set_exception(e)
            return
        except asyncio.CancelledError:
            for _, future in group:
                future.cancel()
            raise
        _answer(group, results)


class BusyBatch(Generic[Item, Result]):
    def __init__(
        self,
        flush: Flush[Item, Result],
        *,
        max_group: int = MAX_GROUP,
        max_in_flight: int = MAX_IN_FLIGHT,
        waited: Callable[[float], None] | None = None,
    ):
        self._flush = flush
        self._max_group = max_group
        self._max_in_flight = max_in_flight
        self._waited = waited  # told, in the waiting request's own context, how long it waited for its group
        self._running = 0
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._groups: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """The item's result: at once while the store is not busy, else with the next group."""
        if self._running < self._max_in_flight:
            self._running += 1
            try:
                result = (await self._flush([item]))[0]
            except Exception as e:
                self._fail_waiting(e)
                raise
            finally:
                self._running -= 1
                self._start()
            if isinstance(result, Exception):
                raise result
            return result
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        start = time.perf_counter()
        try:
            return await future
        finally:
            if self._waited is not None:
                self._waited(time.perf_counter() - start)

    def _start(self) -> None:
        while self._waiting and self._running < self._max_in_flight:
            group, self._waiting = self._waiting[: self._max_group], self._waiting[self._max_group :]
            self._running += 1
            # A context of its own: the group works for all of its requests, and charges none of them.
            task = asyncio.get_running_loop().create_task(self._group(group), context=contextvars.Context())
            self._groups.add(task)
            task.add_done_callback(self._groups.discard)

    async def _group(self, group: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._flush([item for item, _ in group])
        except Exception as e:  # noqa: BLE001 - every request of the group answers with the failure
            results = [e] * len(group)
            self._fail_waiting(e)
        except asyncio.CancelledError:
            for _, future in group:
                future.cancel()
            raise
        finally:
            self._running -= 1
            self._start()
        _answer(group, results)

    def _fail_waiting(self, error: Exception) -> None:
        # The round trip failed as a whole (the store is down or frozen): the requests waiting behind it get the
        # same answer now, rather than a round trip of their own that would wait out the same deadline again.
        waiting, self._waiting = self._waiting, []
        for _, future in waiting:
            if not future.done():
                future.set_exception(error)
