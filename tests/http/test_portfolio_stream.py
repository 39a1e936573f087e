"""The live portfolio stream on a real Granian process: what a client of `text/event-stream` receives."""

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
import msgspec
import pytest

from tests.processes import WebProcess, web_processes

pytestmark = [pytest.mark.http, pytest.mark.integration]

INTERVAL_S = 2.0  # STREAM_MIN_INTERVAL_MS below: "at once" is told apart from a quote round by being well under it
STREAM_ENV = {
    "STREAM_MIN_INTERVAL_MS": str(int(INTERVAL_S * 1000)),
    "STREAM_HEARTBEAT_S": "0.5",
    "STREAM_RETRY_MS": "1500",
}


class Event(msgspec.Struct):
    event: str = "message"
    id: str | None = None
    data: str = ""
    retry: int | None = None
    comment: str | None = None

    def portfolio(self) -> dict:
        return json.loads(self.data, parse_float=Decimal)


class Reader:
    """Parses the stream's lines into events (a `retry:` alone, a comment alone, or an event)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def next(self, timeout: float = 5.0) -> Event | None:
        """The next block, or None at the end of the stream."""
        return await asyncio.wait_for(self._block(), timeout)

    async def _block(self) -> Event | None:
        fields: dict[str, str] = {}
        async for line in self.lines:
            if not line:
                if fields:
                    return _event(fields)
                continue
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.removeprefix(" ")
        return _event(fields) if fields else None

    async def event(self, timeout: float = 5.0) -> Event:
        """The next `portfolio` event, skipping heartbeats and hints."""
        deadline = time.monotonic() + timeout
        while True:
            block = await self.next(max(0.01, deadline - time.monotonic()))
            assert block is not None, "the stream ended"
            if block.event == "portfolio":
                return block


def _event(fields: dict[str, str]) -> Event:
    retry = fields.pop("retry", None)
    return Event(**fields, retry=int(retry) if retry is not None else None)


@pytest.fixture(scope="module")
def web(process_env, servers) -> Iterator[WebProcess]:
    env = {**process_env, **STREAM_ENV, "STREAM_MAX_PER_USER": "2", "STREAM_MAX_PER_PROCESS": "200"}
    with web_processes(env, 1, servers.data_dir / "stream-logs") as (process,):
        yield process


@pytest.fixture
async def http(web) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web.url, timeout=httpx.Timeout(5.0, read=10.0)) as client:
        yield client


@asynccontextmanager
async def stream(http: httpx.AsyncClient, user: int, headers: dict[str, str]) -> AsyncIterator[Reader]:
    async with http.stream("GET", f"/api/user/{user}/portfolio/stream", headers=headers) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        yield Reader(response)


async def new_user(http, ops) -> int:
    r = await http.post(
        "/api/users", json={"email": f"s-{uuid.uuid4().hex[:12]}@example.com", "name": "S"}, headers=ops
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def publish(http, ops, symbol: str, price: Decimal) -> int:
    r = await http.put(
        "/api/market-data/quotes", json={"quotes": [{"symbol": symbol, "price": str(price)}]}, headers=ops
    )
    assert r.status_code == 200, r.text
    return r.json()["version"]


async def holder(http, ops, auth_headers) -> tuple[int, str, Decimal]:
    """A new user holding one share of an equity; its symbol and price."""
    user = await new_user(http, ops)
    listing = (await http.get("/api/market-data", headers=ops)).json()["quotes"]
    chosen = next(q for q in listing if q["symbol"][:1].isalpha() and not q["symbol"].startswith("CASH"))
    price = Decimal(str(chosen["price"]))
    deposit = {"type": "deposit", "amount": str(price * 2), "currency": "USD"}
    assert (await http.post(f"/api/user/{user}/cash", json=deposit, headers=ops)).status_code == 201
    trade = {"symbol": chosen["symbol"], "side": "buy", "quantity": "1", "price": str(price)}
    r = await http.post(f"/api/user/{user}/trades", json=trade, headers=auth_headers(user))
    assert r.status_code == 201, r.text
    return user, chosen["symbol"], price


async def test_the_stream_opens_with_a_retry_hint_and_the_portfolio_the_route_answers(http, operator_headers):
    user = await new_user(http, operator_headers)
    async with stream(http, user, operator_headers) as reader:
        assert reader.response.headers["content-type"].startswith("text/event-stream")
        assert reader.response.headers["cache-control"] == "no-cache"
        hint = await reader.next()
        assert hint.retry == 1500
        first = await reader.event()
        body = json.loads(
            (await http.get(f"/api/user/{user}/portfolio", headers=operator_headers)).content, parse_float=Decimal
        )
        assert first.portfolio() == body
        assert first.id.startswith(f"{body['quotes_version']}.")


async def test_a_published_quote_and_the_users_own_trade_and_deposit_each_send_an_event(
    http, operator_headers, auth_headers
):
    ops = operator_headers
    user, symbol, price = await holder(http, ops, auth_headers)
    async with stream(http, user, auth_headers(user)) as reader:
        first = await reader.event()
        version = await publish(http, ops, symbol, price + 1)
        moved = await reader.event(timeout=INTERVAL_S + 3)
        assert int(moved.id.split(".")[0]) >= version
        assert Decimal(str(moved.portfolio()["holdings"][0]["price"])) == price + 1
        assert moved.id.split(".")[1] == first.id.split(".")[1]  # the same holdings

        # Right after a quote round, the user's own writes still come at once (not at the next round).
        deposit = {"type": "deposit", "amount": "12.34", "currency": "USD"}
        assert (await http.post(f"/api/user/{user}/cash", json=deposit, headers=ops)).status_code == 201
        deposited = await reader.event(timeout=INTERVAL_S * 0.75)
        assert Decimal(str(deposited.portfolio()["total_cash"])) == price + Decimal("12.34")
        trade = {"symbol": symbol, "side": "sell", "quantity": "1", "price": str(price + 1)}
        assert (await http.post(f"/api/user/{user}/trades", json=trade, headers=auth_headers(user))).status_code == 201
        sold = await reader.event(timeout=INTERVAL_S * 0.75)
        assert sold.portfolio()["holdings"] == []
        assert sold.id.split(".")[1] != deposited.id.split(".")[1]


async def test_quote_versions_inside_one_interval_come_as_one_event(http, operator_headers, auth_headers):
    ops = operator_headers
    user, symbol, price = await holder(http, ops, auth_headers)
    async with stream(http, user, ops) as reader:
        await reader.event()
        await publish(http, ops, symbol, price + 1)
        await reader.event(timeout=INTERVAL_S + 3)  # a round now: the next may not come before the interval
        started = time.monotonic()
        versions = [await publish(http, ops, symbol, price + n) for n in (2, 3, 4)]
        published_in = time.monotonic() - started
        coalesced = await reader.event(timeout=INTERVAL_S + 3)
        if published_in > INTERVAL_S / 2:  # a slow machine: the publishes may straddle a round, the last comes next
            while int(coalesced.id.split(".")[0]) != versions[-1]:
                coalesced = await reader.event(timeout=INTERVAL_S + 3)
        assert int(coalesced.id.split(".")[0]) == versions[-1]
        assert Decimal(str(coalesced.portfolio()["holdings"][0]["price"])) == price + 4
        with pytest.raises(TimeoutError):
            await reader.event(timeout=INTERVAL_S / 2)  # and nothing more after it


async def test_a_resume_at_the_last_event_skips_the_state_it_has_and_a_stale_id_gets_it(http, operator_headers):
    user = await new_user(http, operator_headers)
    async with stream(http, user, operator_headers) as reader:
        last = (await reader.event()).id
    async with stream(http, user, {**operator_headers, "Last-Event-ID": last}) as reader:
        assert (await reader.next()).retry == 1500
        assert (await reader.next()).comment == "heartbeat"  # no event: nothing changed since `last`
        deposit = {"type": "deposit", "amount": "5", "currency": "USD"}
        assert (await http.post(f"/api/user/{user}/cash", json=deposit, headers=operator_headers)).status_code == 201
        assert (await reader.event()).id != last
    async with stream(http, user, {**operator_headers, "Last-Event-ID": "1.0000000000"}) as reader:
        assert Decimal(str((await reader.event(timeout=2)).portfolio()["total_cash"])) == 5


async def test_an_idle_stream_gets_heartbeat_comments(http, operator_headers):
    user = await new_user(http, operator_headers)
    async with stream(http, user, operator_headers) as reader:
        await reader.event()
        started = time.monotonic()
        assert (await reader.next(timeout=3)).comment == "heartbeat"
        assert (await reader.next(timeout=3)).comment == "heartbeat"
        assert time.monotonic() - started < 3


async def test_another_users_stream_is_forbidden_and_an_unknown_user_is_not_found(http, auth_headers, operator_headers):
    user = await new_user(http, operator_headers)
    r = await http.get(f"/api/user/{user}/portfolio/stream", headers=auth_headers(user + 1))
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    r = await http.get("/api/user/999999999/portfolio/stream", headers=operator_headers)
    assert r.status_code == 404


async def test_streams_past_the_users_cap_are_refused_with_a_429(http, operator_headers):
    user = await new_user(http, operator_headers)
    async with stream(http, user, operator_headers), stream(http, user, operator_headers):
        r = await http.get(f"/api/user/{user}/portfolio/stream", headers=operator_headers)
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert "per user" in r.json()["detail"]
        assert r.headers["retry-after"]


async def test_streams_past_the_process_cap_are_refused_with_a_429(process_env, servers, operator_headers):
    env = {**process_env, "STREAM_MAX_PER_PROCESS": "2"}
    with web_processes(env, 1, servers.data_dir / "stream-cap-logs") as (web,):
        async with httpx.AsyncClient(base_url=web.url, timeout=5) as http:
            a, b = await new_user(http, operator_headers), await new_user(http, operator_headers)
            async with stream(http, a, operator_headers), stream(http, b, operator_headers):
                r = await http.get(f"/api/user/{a}/portfolio/stream", headers=operator_headers)
                assert r.status_code == 429
                assert "instance" in r.json()["detail"]
            # The streams that ended free their places, as soon as the server has seen them close.
            for _ in range(100):
                async with http.stream("GET", f"/api/user/{a}/portfolio/stream", headers=operator_headers) as response:
                    if response.status_code == 200:
                        assert (await Reader(response).event()).event == "portfolio"
                        break
                    assert response.status_code == 429
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the places of the streams that ended were not freed within 2 s")


async def test_sigterm_ends_the_streams_with_a_retry_hint_well_within_the_drain(process_env, servers, operator_headers):
    with web_processes({**process_env, **STREAM_ENV}, 1, servers.data_dir / "stream-drain-logs") as (web,):
        async with httpx.AsyncClient(base_url=web.url, timeout=httpx.Timeout(5.0, read=10.0)) as http:
            user = await new_user(http, operator_headers)
            async with stream(http, user, operator_headers) as reader:
                await reader.event()
                sent = time.monotonic()
                os.killpg(web.proc.pid, signal.SIGTERM)
                blocks = []
                while (block := await reader.next(timeout=4)) is not None:
                    blocks.append(block)
                ended_in = time.monotonic() - sent
        assert blocks
        assert blocks[-1].retry == 1500
        assert ended_in < 3  # Granian would wait 5 s (the test process's kill timeout) for a stream that stays
        assert web.proc.wait(5) == 0


async def test_an_over_long_last_event_id_is_a_problem_naming_the_header(http, operator_headers):
    user = await new_user(http, operator_headers)
    r = await http.get(f"/api/user/{user}/portfolio/stream", headers={**operator_headers, "Last-Event-ID": "9" * 65})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["source"]) for e in r.json()["errors"]] == [("last_event_id", "header")]
