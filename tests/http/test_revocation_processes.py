"""Revocation across real Granian processes: revoke through one, time until another refuses.

Each figure is printed (run with `-s` to see them): from sending the revocation to the first refusal
seen by a client that keeps asking the other process, and how long the revocation took to answer.
Through Valkey the writer waits for every process's acknowledgement, so the other process refuses
before the revocation answers; with the other process's Valkey link cut, it learns from PostgreSQL,
which it reads at least twice a second while it cannot trust the channel.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.auth import mint_token
from tests.processes import WebProcess, web_processes
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.http, pytest.mark.integration]

BUDGET_S = 1.0


@dataclass
class Watcher:
    """Asks `url` with `headers` in a loop; remembers when it was first refused."""

    url: str
    headers: dict[str, str]
    refused_at: float | None = None
    statuses: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set() and self.refused_at is None:
                status = client.get(self.url, headers=self.headers).status_code
                self.statuses.append(status)
                if status == 401:
                    self.refused_at = time.perf_counter()


@contextmanager
def watching(url: str, headers: dict[str, str]) -> Iterator[Watcher]:
    watcher = Watcher(url, headers)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        yield watcher
    finally:
        watcher.stop.set()
        thread.join(10)


def time_until_refused(
    revoke: Callable[[], httpx.Response], watch_url: str, headers: dict[str, str], what: str
) -> tuple[float, float]:
    """Revoke, and return (seconds until the watched process refused, seconds the revocation took)."""
    assert httpx.get(watch_url, headers=headers, timeout=5).status_code == 200  # remembered there
    with watching(watch_url, headers) as watcher:
        time.sleep(0.2)  # the watcher is asking
        assert watcher.refused_at is None
        assert set(watcher.statuses) == {200}, watcher.statuses
        sent = time.perf_counter()
        answer = revoke()
        answered = time.perf_counter() - sent
        assert answer.status_code in (200, 204), answer.text
        deadline = sent + 5
        while watcher.refused_at is None and time.perf_counter() < deadline:
            time.sleep(0.005)
    assert watcher.refused_at is not None, f"{what}: never refused ({watcher.statuses[-5:]})"
    refused = watcher.refused_at - sent
    print(f"\n{what}: refused {refused * 1000:.0f} ms after the revocation was sent; it answered in"
          f" {answered * 1000:.0f} ms")  # fmt: skip
    return refused, answered


def key_for(web: WebProcess, user: int, operator: dict[str, str]) -> str:
    r = httpx.post(f"{web.url}/api/user/{user}/api-keys", json={"name": "two processes"}, headers=operator, timeout=10)
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def revocation_of_key(web: WebProcess, user: int, key: str, operator: dict[str, str]) -> Callable[[], httpx.Response]:
    items = httpx.get(f"{web.url}/api/user/{user}/api-keys", headers=operator, timeout=10).json()["items"]
    key_id = next(k["id"] for k in items if key.startswith(f"folio_{k['prefix']}_"))
    return lambda: httpx.delete(f"{web.url}/api/user/{user}/api-keys/{key_id}", headers=operator, timeout=10)


def revocation_of_sessions(web: WebProcess, user: int, operator: dict[str, str]) -> Callable[[], httpx.Response]:
    return lambda: httpx.post(f"{web.url}/api/user/{user}/sessions/revoke", headers=operator, timeout=10)


def test_a_revocation_through_one_process_is_refused_by_the_other_before_it_answers(two_web_processes, settings):
    writer, other = two_web_processes
    operator = {"Authorization": f"Bearer {mint_token(settings, subject='ops', scope='operator')}"}
    key_user, token_user = 7331, 7332
    key = key_for(writer, key_user, operator)
    refused, _ = time_until_refused(
        revocation_of_key(writer, key_user, key, operator),
        f"{other.url}/api/user/{key_user}/portfolio",
        {"Authorization": f"Bearer {key}"},
        "API key, through Valkey",
    )
    assert refused < BUDGET_S
    token = mint_token(settings, subject=str(token_user), scope="user")
    refused, _ = time_until_refused(
        revocation_of_sessions(writer, token_user, operator),
        f"{other.url}/api/user/{token_user}/portfolio",
        {"Authorization": f"Bearer {token}"},
        "JWT (sessions), through Valkey",
    )
    assert refused < BUDGET_S


@pytest.fixture
def cut_off_process(process_env, servers) -> Iterator[tuple[WebProcess, TcpProxy]]:
    """A web process of its own whose link to Valkey goes through a proxy the test can cut."""
    target = urlsplit(servers.valkey_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    env = {**process_env, "VALKEY_URL": target._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()}
    try:
        with web_processes(env, 1, servers.data_dir / "revocation-logs") as (web,):
            yield web, proxy
    finally:
        proxy.close()


def test_with_its_valkey_link_cut_a_process_learns_revocations_from_postgresql(
    two_web_processes, cut_off_process, settings
):
    writer = two_web_processes[0]
    other, proxy = cut_off_process
    operator = {"Authorization": f"Bearer {mint_token(settings, subject='ops', scope='operator')}"}
    key_user, token_user = 7333, 7334
    key = key_for(writer, key_user, operator)
    token = mint_token(settings, subject=str(token_user), scope="user")
    for user, credential in ((key_user, key), (token_user, token)):  # remembered there while the link is up
        r = httpx.get(f"{other.url}/api/user/{user}/portfolio", headers={"Authorization": f"Bearer {credential}"})
        assert r.status_code == 200, r.text
    proxy.cut()
    time.sleep(1.0)  # well past the trust window: the channel is known to be down there
    refused, _ = time_until_refused(
        revocation_of_key(writer, key_user, key, operator),
        f"{other.url}/api/user/{key_user}/portfolio",
        {"Authorization": f"Bearer {key}"},
        "API key, Valkey cut off, from PostgreSQL",
    )
    assert refused < BUDGET_S
    refused, _ = time_until_refused(
        revocation_of_sessions(writer, token_user, operator),
        f"{other.url}/api/user/{token_user}/portfolio",
        {"Authorization": f"Bearer {token}"},
        "JWT (sessions), Valkey cut off, from PostgreSQL",
    )
    assert refused < BUDGET_S
