"""HAProxy's runtime API (its stats socket): what it thinks of each host, and taking one out for a measurement."""

import socket
import threading
import time
from pathlib import Path


def command(sock_path: Path, line: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(sock_path))
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def server_status(sock_path: Path) -> dict[str, str]:
    """{server name: UP | DOWN | MAINT | ...} for the `app` backend."""
    lines = command(sock_path, "show stat").splitlines()
    if not lines:
        return {}
    header = lines[0].lstrip("# ").split(",")
    name, kind, status = header.index("svname"), header.index("pxname"), header.index("status")
    return {
        cols[name]: cols[status].split()[0]
        for cols in (line.split(",") for line in lines[1:] if line)
        if len(cols) > status and cols[kind] == "app" and cols[name] not in ("FRONTEND", "BACKEND")
    }


class StatusWatch:
    """Samples HAProxy's view of the hosts every 100 ms in a thread: which hosts it ever took out."""

    def __init__(self, sock_path: Path) -> None:
        self.sock_path = sock_path
        self.seen_down: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="haproxy-status", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for server, status in server_status(self.sock_path).items():
                    if status != "UP":
                        self.seen_down.add(server)
            except OSError:
                pass
            time.sleep(0.1)

    def __enter__(self) -> "StatusWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_status(sock_path: Path, server: str, wanted: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_status(sock_path).get(server) == wanted:
            return True
        time.sleep(0.1)
    return False
