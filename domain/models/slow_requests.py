"""A request slower than SLOW_REQUEST_MS, as the console lists it: where its time went, and its request id."""

import msgspec


class SlowRequest(msgspec.Struct, frozen=True, kw_only=True):
    at: float  # epoch seconds, when it finished
    method: str
    route: str
    path: str
    status: int
    total_ms: float
    db_ms: float
    cache_ms: float
    app_ms: float
    server_timing: str  # the Server-Timing header the client got
    request_id: str
