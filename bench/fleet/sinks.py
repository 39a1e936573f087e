"""The world outside the fleet, run by the runner on the bridge's address: a mail server and a webhook receiver."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cli.embedded.processes import free_port


class MailSink:
    """An SMTP server (aiosmtpd, in a thread) that counts messages by recipient."""

    def __init__(self, host: str) -> None:
        self.port = free_port(host)
        self.url = f"smtp://{host}:{self.port}"
        self.recipients: list[str] = []
        self._lock = threading.Lock()
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname=host, port=self.port, ready_timeout=10)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        with self._lock:
            self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self._lock:
            return len(self.recipients)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


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

        def do_POST(self) -> None:  # noqa: N802 - the base class's name
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            receiver.record(self.headers.get("webhook-id", ""), body)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler


@contextmanager
def sinks(host: str, _data_dir: Path) -> Iterator[tuple[MailSink, HookReceiver]]:
    mail, hooks = MailSink(host), HookReceiver(host)
    mail.start()
    hooks.start()
    try:
        yield mail, hooks
    finally:
        hooks.stop()
        mail.stop()
