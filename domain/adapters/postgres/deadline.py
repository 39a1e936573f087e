"""The deadline of one unit of work, which a frozen server cannot stretch.

Cancelling a psycopg coroutine does not bound it: `AsyncConnection.wait()` catches the
cancellation, asks the server to cancel the query (over a new connection, up to 5 s) and then
waits for the query again (up to 5 s more). Against a server that is stopped rather than gone,
that is a hang which ends in a 200 once the server resumes. So this deadline never cancels: a
timer shuts the connection's socket down instead. The pending read then sees end-of-file at once,
libpq fails it with OperationalError and marks the connection bad, and psycopg_pool discards a bad
connection instead of handing it out again. One timer handle per unit of work, no task.
"""

import asyncio
import contextlib
import os
import socket
from contextvars import ContextVar

import psycopg
from psycopg import AsyncConnection

# The unit of work borrowing a connection right now, for the pool's check on borrow (pre-ping),
# which runs in the borrower's task but is handed only the connection.
CURRENT: ContextVar["Deadline | None"] = ContextVar("folio_db_deadline", default=None)


class DeadlineExpiredError(psycopg.OperationalError):
    """The unit of work ran out of time before this step began (so it was not attempted)."""


class Deadline:
    """Arms one timer; when it fires, the connection being waited on is severed."""

    __slots__ = ("_conn", "_handle", "expired", "severed")

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self.severed: AsyncConnection | None = None  # the connection cut off, which must never be reused
        self._conn: AsyncConnection | None = None
        self._handle = asyncio.get_running_loop().call_later(seconds, self._expire)

    def watch(self, conn: AsyncConnection) -> None:
        """`conn` is the one this unit now waits on (the one being pre-pinged, then the borrowed one)."""
        if self.expired:
            raise DeadlineExpiredError("the unit of work is past its deadline")
        self._conn = conn

    def cancel(self) -> None:
        self._handle.cancel()

    def _expire(self) -> None:
        self.expired = True
        if self._conn is not None:
            sever(self._conn)
            self.severed = self._conn


def sever(conn: AsyncConnection) -> None:
    """Shut the socket under libpq down in both directions: any wait on it ends now, in an error.

    `shutdown` acts on the socket, not the descriptor, so it goes through a duplicate that is
    closed at once; libpq keeps its own descriptor (closing that under a registered reader
    would leave the waiter asleep, and its number free for another socket).
    """
    with contextlib.suppress(OSError, psycopg.OperationalError):  # already closed: nothing to sever
        fd = conn.pgconn.socket
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
