"""Rate limits across two real web processes sharing one Valkey, and failing open without it.

With RATE_LIMIT_PER_MINUTE=20 and the default RATE_LIMIT_OVERSHOOT_PCT (2 %, so a batch of one
request), the limiter's bound for N processes is limit + (N - 1) * batch: 20 or 21 here, never 40.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from tests.processes import web_processes
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration]

LIMIT = 20
BATCH = 1  # max(1, 2 % of 20)


def low_limits(process_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**process_env, "RATE_LIMIT_PER_MINUTE": str(LIMIT), "RATE_LIMIT_ANON_PER_MINUTE": str(LIMIT), **extra}


def away_from_the_window_edge() -> None:
    # A run that crossed a minute boundary would count against two windows.
    into = time.time() % 60
    if into > 45:
        time.sleep(60.5 - into)


def hammer(urls: list[str], headers: dict[str, str], total: int) -> list[httpx.Response]:
    def one(i: int) -> httpx.Response:
        return httpx.get(urls[i % len(urls)], headers=headers, timeout=10)

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(total)))


def test_two_processes_share_one_limit_per_token(process_env, servers, token):
    auth = {"Authorization": f"Bearer {token(4242)}"}
    with web_processes(low_limits(process_env), 2, servers.data_dir / "rate-limit-logs") as procs:
        away_from_the_window_edge()
        # Both lanes: the portfolio fast lane and a regular route, on both processes.
        urls = [f"{p.url}{path}" for p in procs for path in ("/api/user/4242/portfolio", "/api/user/4242/trades")]
        responses = hammer(urls, auth, 80)
        ok = [r for r in responses if r.status_code < 300]
        refused = [r for r in responses if r.status_code == 429]
        assert len(ok) + len(refused) == 80, {r.status_code for r in responses}
        assert LIMIT <= len(ok) <= LIMIT + (len(procs) - 1) * BATCH, len(ok)
        for r in refused:
            assert r.headers["content-type"] == "application/problem+json"
            assert 1 <= int(r.headers["retry-after"]) <= 60
            assert r.json()["request_id"] == r.headers["x-request-id"]
            assert r.headers["x-content-type-options"] == "nosniff"
        # Another user's token has its own budget; health never counts.
        other = {"Authorization": f"Bearer {token(4243)}"}
        assert httpx.get(f"{procs[1].url}/api/user/4243/portfolio", headers=other, timeout=10).status_code == 200
        assert all(httpx.get(f"{procs[0].url}/health/live", timeout=10).status_code == 200 for _ in range(LIMIT + 5))


def test_unauthenticated_callers_are_limited_by_address_and_forged_tokens_do_not_help(process_env, servers):
    with web_processes(low_limits(process_env), 1, servers.data_dir / "rate-limit-anon-logs") as procs:
        away_from_the_window_edge()
        url = f"{procs[0].url}/api/user/1/portfolio"
        statuses = [
            httpx.get(url, headers={"Authorization": f"Bearer forged.{i}.token"}, timeout=10).status_code
            for i in range(LIMIT + 10)
        ]
        assert statuses.count(401) == LIMIT
        assert statuses.count(429) == 10


def test_valkey_down_fails_open_and_is_logged_once(process_env, servers, token):
    target = urlsplit(servers.valkey_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    valkey_url = target._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
    log_dir = servers.data_dir / "rate-limit-fail-open-logs"
    env = low_limits(process_env, VALKEY_URL=valkey_url, RATE_LIMIT_PER_MINUTE="1000")
    try:
        with web_processes(env, 1, log_dir) as procs:
            auth = {"Authorization": f"Bearer {token(4244)}"}
            url = f"{procs[0].url}/api/user/4244/trades"
            assert httpx.get(url, headers=auth, timeout=10).status_code == 200
            proxy.cut()
            statuses = [r.status_code for r in hammer([url], auth, 60)]
            assert statuses == [200] * 60  # the database still answers; the dead limiter store refuses nobody
        log = (log_dir / "web-0.log").read_text()
        assert log.count("fail open") == 1, log[-3000:]
    finally:
        proxy.close()
