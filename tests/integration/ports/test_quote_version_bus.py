import asyncio

import pytest
import valkey.asyncio as avalkey

from domain.adapters.valkey_quote_bus import ValkeyQuoteVersionBus

pytestmark = [pytest.mark.integration]


async def test_an_announced_version_reaches_every_listener(servers):
    client = avalkey.Valkey.from_url(servers.valkey_url, socket_timeout=0.5, socket_connect_timeout=0.5)
    heard: list[list[int]] = [[], []]
    buses = [ValkeyQuoteVersionBus(client, servers.valkey_url) for _ in heard]
    tasks = [asyncio.create_task(bus.listen(h.append)) for bus, h in zip(buses, heard, strict=True)]
    try:
        async with asyncio.timeout(5):
            while not all(0 in h for h in heard):  # each says "maybe missed some" once subscribed
                await asyncio.sleep(0.01)
            await buses[0].announce(41)
            await buses[1].announce(42)
            while not all(h[-2:] == [41, 42] for h in heard):
                await asyncio.sleep(0.01)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()


async def test_announcing_without_valkey_does_not_raise():
    client = avalkey.Valkey.from_url("redis://127.0.0.1:1", socket_timeout=0.1, socket_connect_timeout=0.1)
    await ValkeyQuoteVersionBus(client, "redis://127.0.0.1:1").announce(7)
    await client.aclose()
