"""The two ceilings: constant bytes of a response's size, from a bare Litestar route and from raw ASGI.

Both are served exactly as Folio is (same Procfile line, one Granian worker, same core), with a body of
the portfolio's size, or the market data's gzip size (`BENCH_BODY_SIZE`). The Litestar ceiling
(`create_app`: one regular `@get` on the portfolio's path, and one on the market data's) is what a
framework handler can do here; the raw ceiling (`create_raw_app`: an ASGI callable that answers every
request with the body) is the limit of Python on Granian on this core.
What Folio spends beyond them is the cost of its own work per request.
"""

import os
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar, MediaType, get

DEFAULT_BODY_SIZE = 6500


def constant_body(size: int) -> bytes:
    """A JSON document of exactly `size` bytes (at least 12)."""
    head, tail = b'{"pad":"', b'"}'
    return head + b"x" * max(size - len(head) - len(tail), 0) + tail


def create_app() -> Litestar:
    """Granian's `--factory` target: `bench.ceiling:create_app`."""
    body = constant_body(int(os.environ.get("BENCH_BODY_SIZE", DEFAULT_BODY_SIZE)))

    @get("/api/user/{user_id:int}/portfolio", media_type=MediaType.JSON)
    async def portfolio(user_id: int) -> bytes:
        return body

    @get("/api/market-data", media_type=MediaType.JSON)
    async def market_data() -> bytes:  # the market data's scenario, with a body of its size
        return body

    return Litestar(route_handlers=[portfolio, market_data], openapi_config=None, debug=False)


def create_raw_app() -> Callable[[Any, Any, Any], Awaitable[None]]:
    """Granian's `--factory` target: `bench.ceiling:create_raw_app`, no framework at all."""
    body = constant_body(int(os.environ.get("BENCH_BODY_SIZE", DEFAULT_BODY_SIZE)))
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    message = {"type": "http.response.body", "body": body}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send(start)
        await send(message)

    return app
