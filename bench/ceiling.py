"""The ceiling: a bare Litestar app whose one regular `@get` route returns constant bytes.

It is served exactly as Folio is (same Procfile line, one Granian worker, same core) on the
portfolio's path and with a body of the portfolio's size (`BENCH_BODY_SIZE`), so what Folio
spends beyond it is the cost of its own work per request.
"""

import os

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

    return Litestar(route_handlers=[portfolio], openapi_config=None, debug=False)
