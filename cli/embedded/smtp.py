"""An aiosmtpd sink that keeps each message as a file."""

import time
import uuid
from pathlib import Path
from typing import Any

from cli.embedded.processes import HOST, free_port


class _MailFolderHandler:
    """aiosmtpd handler: each message becomes `<mail_dir>/<time>-<id>.eml`, written atomically."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        head = f"X-MailFrom: {envelope.mail_from}\r\nX-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        content = envelope.original_content or envelope.content or b""
        body = content if isinstance(content, bytes) else content.encode()
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.mail_dir / f".{name}.tmp"
        tmp.write_bytes(head + body)
        tmp.replace(self.mail_dir / name)
        return "250 Message accepted for delivery"


class SmtpSink:
    """An SMTP server (aiosmtpd, in a thread) that stores every message as a .eml file."""

    def __init__(self, mail_dir: Path, *, port: int | None = None) -> None:
        self.mail_dir = mail_dir.resolve()
        self.port = port or 0
        self._controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self._controller = Controller(
            _MailFolderHandler(self.mail_dir), hostname=HOST, port=self.port, ready_timeout=10, enable_SMTPUTF8=True
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[Path]:
        """The stored messages, oldest first."""
        return sorted(self.mail_dir.glob("*.eml"))

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[Path]:
        """Poll until at least `count` messages are stored; return them (maybe fewer on timeout)."""
        deadline = time.monotonic() + timeout
        while len(found := self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return found
