import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import brotli
import pytest
import zstandard

from tests.processes import ROOT

pytestmark = [pytest.mark.http, pytest.mark.integration]

QUOTE_FIELDS = {
    "symbol", "name", "asset_class", "currency", "exchange", "price", "bid", "ask", "previous_close",
    "change", "change_pct", "day_high", "day_low", "volume", "as_of",
}  # fmt: skip
DECODE = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda body: zstandard.ZstdDecompressor().decompressobj().decompress(body),
}


async def raw_get(client, path, **headers):
    """Status, headers and the body as sent on the wire (no transparent decompression)."""
    async with client.stream("GET", path, headers=headers) as r:
        body = b"".join([chunk async for chunk in r.aiter_raw()])
    return r.status_code, r.headers, body


async def test_market_data_lists_every_quote_with_the_contract_fields(client):
    status, headers, body = await raw_get(client, "/api/market-data", **{"accept-encoding": "identity"})
    assert status == 200
    assert "content-encoding" not in headers
    assert headers["content-type"].startswith("application/json")
    doc = json.loads(body, parse_float=Decimal)
    assert doc["count"] == len(doc["quotes"]) >= 4000
    assert doc["version"] >= 1
    assert doc["as_of"]
    assert set(doc["quotes"][0]) == QUOTE_FIELDS
    assert [q["symbol"] for q in doc["quotes"]] == sorted(q["symbol"] for q in doc["quotes"])
    q = doc["quotes"][0]
    assert q["change"] == q["price"] - q["previous_close"]
    assert isinstance(q["price"], Decimal)  # a JSON number, not a string


async def test_market_data_without_accept_encoding_is_identity(client):
    status, headers, body = await raw_get(client, "/api/market-data", **{"accept-encoding": ""})
    assert status == 200
    assert "content-encoding" not in headers
    assert json.loads(body)["count"] > 0


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
async def test_market_data_compressed_bodies_decode_to_the_same_document(client, coding):
    _, _, identity = await raw_get(client, "/api/market-data", **{"accept-encoding": "identity"})
    status, headers, body = await raw_get(client, "/api/market-data", **{"accept-encoding": coding})
    assert status == 200
    assert headers["content-encoding"] == coding
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(body)
    decoded = json.loads(DECODE[coding](body))
    reference = json.loads(identity)
    if decoded["version"] == reference["version"]:
        assert decoded == reference
    saving = 1 - len(body) / len(identity)
    print(f"\nmarket data: raw {len(identity):,} B, {coding} {len(body):,} B ({saving:.1%} smaller)")
    if coding in ("br", "zstd"):
        assert saving >= 0.85


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("gzip, br;q=0.5", "gzip"), ("br;q=0.9, zstd;q=0.1, gzip;q=0.8", "br"), ("*", "br"), ("gzip;q=0, identity", None)],
)
async def test_market_data_honours_q_values(client, accept, expected):
    _, headers, _ = await raw_get(client, "/api/market-data", **{"accept-encoding": accept})
    assert headers.get("content-encoding") == expected


async def test_market_data_has_a_strong_etag_and_cdn_headers(client):
    _, headers, _ = await raw_get(client, "/api/market-data", **{"accept-encoding": "identity"})
    etag = headers["etag"]
    assert etag.startswith('"mdv')
    assert etag.endswith('"')
    assert headers["cache-control"].startswith("public, max-age=1")
    assert "stale-while-revalidate" in headers["cache-control"]
    _, coded, _ = await raw_get(client, "/api/market-data", **{"accept-encoding": "gzip"})
    assert coded["etag"] == etag[:-1] + '.gzip"'  # another representation, another strong tag


async def test_if_none_match_gives_an_empty_304(client):
    _, headers, _ = await raw_get(client, "/api/market-data", **{"accept-encoding": "br"})
    etag = headers["etag"]
    for condition in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, h304, body = await raw_get(
            client, "/api/market-data", **{"accept-encoding": "br", "if-none-match": condition}
        )
        if status == 200:  # the simulator-free suite can still publish between two requests
            assert h304["etag"] != etag
            continue
        assert status == 304, condition
        assert body == b""
        assert h304["etag"] == etag
        assert h304["vary"] == "Accept-Encoding"
        assert "content-encoding" not in h304
    status, _, _ = await raw_get(client, "/api/market-data", **{"if-none-match": '"mdv0-nothing"'})
    assert status == 200


async def test_market_data_stays_compressed_while_the_simulator_moves_every_price(client, process_env):
    _, before, _ = await raw_get(client, "/api/market-data", **{"accept-encoding": "br"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "simulate", "--interval", "0.05", "--fraction", "0.3", "--seed", "11"],
        cwd=ROOT,
        env={**os.environ, **process_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # 12 ticks of 30%: 99% of the prices have moved, as after a minute of `make run`
        start = await served_version(client)
        deadline = time.monotonic() + 60
        while await served_version(client) < start + 12 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        sizes = {}
        for coding in ("br", "zstd", "gzip"):
            status, headers, body = await raw_get(client, "/api/market-data", **{"accept-encoding": coding})
            assert (status, headers["content-encoding"]) == (200, coding)
            identity = DECODE[coding](body)
            sizes[coding] = (json.loads(identity)["version"], len(body) / len(identity), headers["etag"])
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=15)[0].decode()
    assert proc.returncode == 0, output
    print("\nmarket data while prices tick: " + ", ".join(f"{c} {r:.1%} (v{v})" for c, (v, r, _) in sizes.items()))
    assert min(v for v, _, _ in sizes.values()) >= start + 12, output
    assert sizes["br"][1] <= 0.15
    assert sizes["zstd"][1] <= 0.15
    assert sizes["gzip"][1] <= 0.19
    # the tag of the version before the ticks is stale; the current one gives an empty 304
    br = {"accept-encoding": "br"}
    for _ in range(5):  # the app may still be catching up with the simulator's last version
        status, headers, _ = await raw_get(client, "/api/market-data", **br, **{"if-none-match": before["etag"]})
        assert status == 200
        assert headers["etag"] != before["etag"]
        status, _, body = await raw_get(client, "/api/market-data", **br, **{"if-none-match": headers["etag"]})
        if status == 304:
            break
        await asyncio.sleep(0.5)
    assert (status, body) == (304, b"")


async def served_version(client) -> int:
    return (await client.get("/api/market-data", headers={"accept-encoding": "gzip"})).json()["version"]


async def test_one_quote_by_symbol(client):
    doc = (await client.get("/api/market-data", headers={"accept-encoding": "identity"})).json()
    symbol = doc["quotes"][10]["symbol"]
    r = await client.get(f"/api/market-data/{symbol}")
    assert r.status_code == 200
    body = r.json()
    assert body["instrument"]["symbol"] == symbol
    assert set(body["quote"]) == QUOTE_FIELDS
    assert "daily_closes" not in body


async def test_daily_closes_of_the_last_n_days(client):
    r = await client.get("/api/market-data/CASH-EUR", params={"days": 5})
    assert r.status_code == 200
    closes = r.json()["daily_closes"]
    assert len(closes) == 5
    assert [c["day"] for c in closes] == sorted(c["day"] for c in closes)
    assert all(c["close"] > 0 for c in closes)


async def test_unknown_symbol_is_a_404_problem(client):
    r = await client.get("/api/market-data/NOSUCH1")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "NOSUCH1" in r.json()["detail"]


@pytest.mark.parametrize("days", ["0", "-3", "3651", "abc"])
async def test_days_out_of_bounds_names_the_parameter(client, days):
    r = await client.get("/api/market-data/CASH-EUR", params={"days": days})
    assert r.status_code in (400, 422)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "days"


async def test_static_data_is_reference_data_cached_by_cdns(client):
    status, headers, body = await raw_get(client, "/api/static-data/instruments", **{"accept-encoding": "identity"})
    assert status == 200
    assert headers["cache-control"] == "public, max-age=3600"
    assert headers["vary"] == "Accept-Encoding"
    doc = json.loads(body)
    assert doc["count"] == len(doc["instruments"]) >= 4000
    assert set(doc["instruments"][0]) == {"symbol", "name", "asset_class", "currency", "exchange"}
    etag = headers["etag"]
    status, h304, body = await raw_get(client, "/api/static-data/instruments", **{"if-none-match": etag})
    assert (status, body) == (304, b"")
    assert h304["cache-control"] == "public, max-age=3600"
    status, hbr, body = await raw_get(client, "/api/static-data/instruments", **{"accept-encoding": "br"})
    assert hbr["content-encoding"] == "br"
    assert json.loads(brotli.decompress(body)) == doc


async def test_static_data_etag_stays_while_quotes_move(client):
    before = (await client.get("/api/static-data/instruments")).headers["etag"]
    r = await client.put("/api/market-data/quotes", json={"quotes": [{"symbol": "CASH-USD", "price": "1"}]})
    assert r.status_code == 200
    after = (await client.get("/api/static-data/instruments")).headers["etag"]
    assert before == after
