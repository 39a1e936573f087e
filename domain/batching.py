"""One round trip for the requests of one event-loop turn: report requests written together (group commit), and
holdings read together.

A request joins the open group and waits. The group is sent at the end of the turn it was opened in (a
`call_soon`), or, while `max_in_flight` groups are under way already, as soon as one of them is done: under
load the groups grow by themselves, and a lone request waits no longer than one turn. Each request is answered
from its own result, only after its group's round trip returned (so a report's 202 still means a durable row).
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Flush = Callable[[Sequence[Item]], Awaitable[Sequence[Result | Exception]]]

MAX_GROUP = 256  # requests per write: one statement's parameters stay small
MAX_IN_FLIGHT = 2  # groups written at once: the next one gathers while the database works


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
        for (_, future), result in zip(group, results, strict=True):
            if future.done():  # its request went away (a client that disconnected): its row stays, as always
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
