"""After an acknowledged trade, no process serves the old holdings, while others keep filling caches."""

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
        base = quantity((await http.get(f"{a.url}/api/user/{USER}/portfolio")).json())
        stop = asyncio.Event()
        readers = [asyncio.create_task(hammer(http, p.url, stop)) for p in (a, b) for _ in range(4)]
        try:
            for n in range(1, writes + 1):
                writer = (a, b)[n % 2]
                order = {"symbol": SYMBOL, "side": "buy", "quantity": "1", "price": "0.73"}
                placed = await http.post(f"{writer.url}/api/user/{USER}/trades", json=order)
                assert placed.status_code == 201
                for reader in (a, b):
                    seen = quantity((await http.get(f"{reader.url}/api/user/{USER}/portfolio")).json())
                    stale += seen != base + n
        finally:
            stop.set()
            reads = await asyncio.gather(*readers)
    assert stale == 0
    assert sum(reads) > writes  # the readers really were filling the caches meanwhile
    with contextlib.suppress(Exception):
        print(f"{writes} writes, {sum(reads)} concurrent reads, {stale} stale reads")
