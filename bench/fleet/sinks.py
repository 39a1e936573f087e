"""The world outside the fleet: the mail the `db` host's sink stored, and a webhook receiver run by the runner
on the bridge's address."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class MailFolder:
    """The `db` host's mail server, seen from the runner: its URL and the messages it has stored."""

    def __init__(self, host: str, port: int, mail_dir: Path) -> None:
        self.url = f"smtp://{host}:{port}"
        self.mail_dir = mail_dir

    def recipients(self) -> list[str]:
        """One entry per stored message: its `X-RcptTo` header (the sink writes it first)."""
        found = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            with path.open("rb") as f:
                for line in f.read(4096).decode(errors="replace").splitlines():
                    if line.startswith("X-RcptTo:"):
                        found.append(line.removeprefix("X-RcptTo:").strip())
                        break
        return found


class HookReceiver:
    """Records every webhook POST: its `webhook-id` and the event's `data` (a trade's id among them)."""

    def __init__(self, host: str) -> None:
        self.arrivals: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/hooks"

    def record(self, webhook_id: str, body: bytes) -> None:
        try:
            data = json.loads(body).get("data", {})
        except ValueError:
            data = {}
        with self._lock:
            self.arrivals.append((webhook_id, data if isinstance(data, dict) else {}))

    def trade_ids(self) -> set[str]:
        with self._lock:
            return {str(data.get("id")) for _, data in self.arrivals if "id" in data}

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(receiver: HookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            receiver.record(self.headers.get("webhook-id", ""), body)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler


@contextmanager
def hook_receiver(host: str) -> Iterator[HookReceiver]:
    hooks = HookReceiver(host)
    hooks.start()
    try:
        yield hooks
    finally:
        hooks.stop()
