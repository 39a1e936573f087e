import time
from decimal import Decimal

import httpx
import pytest

pytestmark = [pytest.mark.integration]


def test_an_ingest_through_one_process_is_served_by_another_within_a_second(two_web_processes, operator_headers):
    a, b = two_web_processes
    ops = operator_headers
    symbol = next(
        i["symbol"]
        for i in httpx.get(f"{b.url}/api/static-data/instruments", headers=ops, timeout=5).json()["instruments"]
        if i["asset_class"] == "etf"
    )
    httpx.get(f"{b.url}/api/market-data", headers=ops, timeout=5)  # B has rendered its current document
    price = str(Decimal("123.4567") + Decimal(time.time_ns() % 1000) / 100)
    r = httpx.put(
        f"{a.url}/api/market-data/quotes", json={"quotes": [{"symbol": symbol, "price": price}]}, headers=ops, timeout=5
    )
    assert r.status_code == 200
    version = r.json()["version"]
    published = time.monotonic()
    deadline = published + 1.0
    while True:
        quote = httpx.get(f"{b.url}/api/market-data/{symbol}", headers=ops, timeout=5).json()
        doc = httpx.get(f"{b.url}/api/market-data", headers={"accept-encoding": "gzip", **ops}, timeout=5).json()
        if (quote["version"] >= version and doc["version"] >= version) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    print(f"\nprocess B served version {version} {time.monotonic() - published:.3f}s after process A published it")
    assert quote["version"] >= version
    assert Decimal(str(quote["quote"]["price"])) == Decimal(price)
    assert doc["version"] >= version
    assert Decimal(str(next(q for q in doc["quotes"] if q["symbol"] == symbol)["price"])) == Decimal(price)
