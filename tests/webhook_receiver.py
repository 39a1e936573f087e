"""A real HTTP receiver for webhook tests: records every POST, and answers each path as its script says."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Arrival:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay_s: float = 0.0  # wait this long before answering (a timeout, seen from the sender)
    hold: threading.Event | None = None  # wait for this before answering (a worker killed meanwhile)
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.scripts: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        self.url = ""

    def script(self, path: str, *answers: Answer) -> str:
        """Answer `path`'s next requests with `answers`, then 200; returns its full URL."""
        self.scripts[path] = list(answers)
        return self.url + path

    def next_answer(self, arrival: Arrival) -> Answer:
        with self._lock:
            self.arrivals.append(arrival)
            queue = self.scripts.get(arrival.path, [])
            return queue.pop(0) if queue else Answer()

    def at(self, path: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 20.0) -> list[Arrival]:
        deadline = time.monotonic() + timeout
        while len(found := self.at(path)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return found


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = receiver.next_answer(Arrival(self.path, headers, body, time.monotonic()))
            if answer.hold is not None:
                answer.hold.wait(30)
            time.sleep(answer.delay_s)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the sender gave up (a timeout) or died: nothing to answer
                pass

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A receiver on a free loopback port, in a thread, for as long as the block runs."""
    r = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(r))
    server.daemon_threads = True
    r.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        server.shutdown()
        server.server_close()
