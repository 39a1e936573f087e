import gzip
import json

import brotli
import pytest

pytestmark = [pytest.mark.http, pytest.mark.integration]

OPENAPI = "/docs/openapi.json"


async def raw_get(client, path, **headers):
    async with client.stream("GET", path, headers=headers) as r:
        body = b"".join([chunk async for chunk in r.aiter_raw()])
    return r.status_code, r.headers, body


@pytest.mark.parametrize(("coding", "decode"), [("gzip", gzip.decompress), ("br", brotli.decompress)])
async def test_large_responses_are_compressed_as_the_client_asks(client, coding, decode):
    _, _, identity = await raw_get(client, OPENAPI, **{"accept-encoding": "identity"})
    status, headers, body = await raw_get(client, OPENAPI, **{"accept-encoding": f"{coding}, deflate"})
    assert status == 200
    assert headers["content-encoding"] == coding
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(body) < len(identity)
    assert json.loads(decode(body)) == json.loads(identity)


async def test_large_identity_responses_still_say_they_vary(client):
    status, headers, body = await raw_get(client, OPENAPI, **{"accept-encoding": "gzip;q=0"})
    assert status == 200
    assert "content-encoding" not in headers
    assert headers["vary"] == "Accept-Encoding"
    assert json.loads(body)["openapi"]


async def test_small_responses_are_left_alone(client):
    status, headers, body = await raw_get(client, "/health/live", **{"accept-encoding": "gzip, br"})
    assert status == 200
    assert len(body) < 1000
    assert "content-encoding" not in headers
    assert "vary" not in headers


async def test_bodies_that_carry_a_content_encoding_are_not_compressed_again(client):
    status, headers, body = await raw_get(client, "/api/market-data", **{"accept-encoding": "br, gzip"})
    assert status == 200
    assert headers["content-encoding"] == "br"
    assert headers["vary"] == "Accept-Encoding"
    assert json.loads(brotli.decompress(body))["count"] > 0


async def test_a_304_is_never_compressed(client):
    _, headers, _ = await raw_get(client, "/api/static-data/instruments", **{"accept-encoding": "gzip"})
    status, h304, body = await raw_get(
        client, "/api/static-data/instruments", **{"accept-encoding": "gzip", "if-none-match": headers["etag"]}
    )
    assert (status, body) == (304, b"")
    assert "content-encoding" not in h304


async def test_streamed_static_files_are_compressed(client):
    status, headers, body = await raw_get(client, "/docs/assets/swagger-ui-bundle.js", **{"accept-encoding": "br"})
    assert status == 200
    assert headers["content-encoding"] == "br"
    assert headers["vary"] == "Accept-Encoding"
    assert "content-length" not in headers or int(headers["content-length"]) == len(body)
    assert len(brotli.decompress(body)) > len(body) * 2
