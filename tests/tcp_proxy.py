"""A small TCP proxy between the app and a server, to cut or stall the link (as psycopg's own tests do)."""

import asyncio
import contextlib
import threading

from cli.embedded import free_port


class _Link:
    """One client's connection through the proxy; `muted` drops what the server sends it."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.muted = False


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` drops every link and refuses new ones,
    `stall()` accepts but forwards nothing (a hung server), `restore()` goes back to forwarding.
    `lose_answers_after(marker)`: a link whose client sends `marker` hears nothing more from the
    server, though the server got the message (a lost answer: the client cannot know the outcome).
    `upstream_ports()`: the proxy's local ports towards the server (`pg_stat_activity.client_port`)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode = "forward"
        self.lose_after: bytes | None = None
        self._live: dict[int, _Link] = {}
        self._loop = asyncio.new_event_loop()
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> "TcpProxy":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._links |= {writer, up_writer}
        link = _Link(up_writer.get_extra_info("sockname")[1])
        self._live[link.upstream_port] = link
        try:
            await asyncio.gather(self._pipe(reader, up_writer, link, True), self._pipe(up_reader, writer, link, False))
        finally:
            self._live.pop(link.upstream_port, None)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, to_server: bool
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                while self.mode == "stall":
                    await asyncio.sleep(0.05)
                if self.mode == "cut":
                    break
                if not to_server and link.muted:
                    continue
                writer.write(data)
                await writer.drain()
                if to_server and self.lose_after is not None and self.lose_after in data:
                    link.muted = True
        writer.close()
        self._links.discard(writer)

    def _run(self, fn: object) -> None:
        self._loop.call_soon_threadsafe(fn)  # type: ignore[arg-type]

    def cut(self) -> None:
        self.mode = "cut"

        def close_all() -> None:
            for w in list(self._links):
                w.close()
            self._links.clear()

        self._run(close_all)

    def stall(self) -> None:
        self.mode = "stall"

    def restore(self) -> None:
        self.mode = "forward"
        self.lose_after = None

    def lose_answers_after(self, marker: bytes) -> None:
        self.lose_after = marker

    def upstream_ports(self) -> set[int]:
        return set(self._live)

    def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
