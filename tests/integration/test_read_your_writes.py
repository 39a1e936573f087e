"""After an acknowledged trade or cash movement, no process serves the old holdings or cash, while others keep
filling caches."""

import asyncio
import contextlib
from decimal import Decimal

import httpx
import pytest

pytestmark = pytest.mark.integration

USER = 5003
SYMBOL = "KO"


def quantity(body: dict, symbol: str = SYMBOL) -> Decimal:
    held = next((h for h in body["holdings"] if h["symbol"] == symbol), None)
    return Decimal(str(held["quantity"])) if held else Decimal(0)


def usd(body: dict) -> Decimal:
    return next((Decimal(str(c["amount"])) for c in body["cash"] if c["currency"] == "USD"), Decimal(0))


async def hammer(http: httpx.AsyncClient, url: str, stop: asyncio.Event) -> int:
    reads = 0
    while not stop.is_set():
        r = await http.get(f"{url}/api/user/{USER}/portfolio")
        assert r.status_code == 200
        reads += 1
    return reads


async def test_no_stale_read_after_an_acknowledged_write_across_two_processes(two_web_processes, auth_headers):
    a, b = two_web_processes
    stale, writes = 0, 20
    async with httpx.AsyncClient(
        headers=auth_headers(USER), timeout=10, limits=httpx.Limits(max_connections=100)
    ) as http:
        first = (await http.get(f"{a.url}/api/user/{USER}/portfolio")).json()
        held, cash = quantity(first), usd(first)
        stop = asyncio.Event()
        readers = [asyncio.create_task(hammer(http, p.url, stop)) for p in (a, b) for _ in range(4)]
        try:
            for n in range(1, writes + 1):
                writer = (a, b)[n % 2]
                if n % 4:  # a buy: one share more, 0.73 and its fee less cash
                    order = {"symbol": SYMBOL, "side": "buy", "quantity": "1", "price": "0.73"}
                    placed = await http.post(f"{writer.url}/api/user/{USER}/trades", json=order)
                    assert placed.status_code == 201
                    held += 1
                else:  # a deposit
                    move = {"type": "deposit", "amount": "10", "currency": "USD"}
                    placed = await http.post(f"{writer.url}/api/user/{USER}/cash", json=move)
                    assert placed.status_code == 201
                after = placed.json()["cash"]  # a trade's: currency to amount; a movement's: a list, as the portfolio's
                cash = Decimal(str(after["USD"])) if isinstance(after, dict) else usd(placed.json())
                for reader in (a, b):
                    seen = (await http.get(f"{reader.url}/api/user/{USER}/portfolio")).json()
                    stale += (quantity(seen), usd(seen)) != (held, cash)
        finally:
            stop.set()
            reads = await asyncio.gather(*readers)
    assert stale == 0
    assert sum(reads) > writes  # the readers really were filling the caches meanwhile
    with contextlib.suppress(Exception):
        print(f"{writes} writes, {sum(reads)} concurrent reads, {stale} stale reads")
