"""The documents' lane answers exactly as the regular routes do.

A query string sends a request past the lane to Litestar's route, so each pair below compares the lane's
answer with the route's for the same document: status, body and every header a client or a cache reads.
"""

import pytest

from tests.http.test_api_keys import bearer, new_key
from tests.http.test_market_data import raw_get

pytestmark = [pytest.mark.http, pytest.mark.integration]

DOCUMENTS = ("/api/market-data", "/api/static-data/instruments")
COMPARED = ("content-type", "content-encoding", "content-length", "etag", "cache-control", "vary")
# Headers that differ per request, or that the outer layers add to every response alike.
PER_REQUEST = {"x-request-id", "x-process-time", "server-timing", "date", "server"}


def _readable(headers) -> dict[str, str]:
    return {name: headers.get(name) for name in COMPARED}


async def _same_version(client, path: str, **headers):
    """The lane's and the route's answers for one document version (the suite's quotes can move between)."""
    for _ in range(5):
        lane = await raw_get(client, path, **headers)
        route = await raw_get(client, f"{path}?via=route", **headers)
        if lane[1].get("etag") == route[1].get("etag"):
            return lane, route
    pytest.fail(f"{path}: the document moved on every try")


@pytest.mark.parametrize("path", DOCUMENTS)
@pytest.mark.parametrize("coding", ["identity", "gzip", "br", "zstd"])
async def test_the_lane_answers_as_the_route_does(client, path, coding):
    (status, headers, body), (route_status, route_headers, route_body) = await _same_version(
        client, path, **{"accept-encoding": coding}
    )
    assert status == route_status == 200
    assert _readable(headers) == _readable(route_headers)
    assert body == route_body
    assert set(headers) - PER_REQUEST == set(route_headers) - PER_REQUEST


@pytest.mark.parametrize("path", DOCUMENTS)
async def test_the_lane_answers_a_current_tag_with_the_routes_304(client, path):
    _, headers, _ = await raw_get(client, path, **{"accept-encoding": "br"})
    condition = {"accept-encoding": "br", "if-none-match": headers["etag"]}
    (status, h304, body), (route_status, route_h304, route_body) = await _same_version(client, path, **condition)
    assert status == route_status == 304
    assert body == route_body == b""
    assert _readable(h304) == _readable(route_h304)


@pytest.mark.parametrize("path", DOCUMENTS)
async def test_callers_the_lane_does_not_accept_get_the_routes_problems(client, path):
    assert (await client.get(path, headers={"Authorization": ""})).status_code == 401
    refused = await client.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert (refused.status_code, refused.headers["content-type"]) == (401, "application/problem+json")
    trader = (await new_key(client, 31, scopes=["trade"]))["key"]
    without_read = await client.get(path, headers=bearer(trader))
    assert (without_read.status_code, without_read.headers["content-type"]) == (403, "application/problem+json")
    assert "'read'" in without_read.json()["detail"]
    reader = (await new_key(client, 31, scopes=["read"]))["key"]
    assert (await client.get(path, headers=bearer(reader))).status_code == 200
