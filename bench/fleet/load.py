"""The mixed load through HAProxy: portfolio reads, market data and trades, from the root namespace.

A closed loop of `connections` clients that stops when told (or after `seconds`). Every request is kept as
an outcome with its start and end times, so a scenario can tell which requests were in flight at an
instant, and every acknowledged trade (a 2xx) with its id, so none can go missing unnoticed. Each trade
carries an Idempotency-Key: HAProxy may send a request that reached a dying host again, and then the
second attempt returns the first result instead of trading twice.
"""

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

READ, MARKET, TRADE = "portfolio", "market-data", "trade"
REQUEST_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Outcome:
    kind: str
    user: int
    started: float
    ended: float
    status: int  # 0: no answer (refused, reset, timed out)
    trade_id: str | None = None
    error: str = ""

    @property
    def failed(self) -> bool:
        return not 200 <= self.status < 300


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]

    @property
    def trades(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == TRADE and not o.failed]

    @property
    def rps(self) -> float:
        return len(self.outcomes) / self.seconds if self.seconds else 0.0

    def in_flight_during(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if o.started <= end and o.ended >= start]

    def summary(self) -> str:
        by_status: dict[int, int] = {}
        for o in self.outcomes:
            by_status[o.status] = by_status.get(o.status, 0) + 1
        statuses = ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(by_status.items()))
        return f"{len(self.outcomes)} requests in {self.seconds:.1f} s ({self.rps:.0f} req/s; {statuses})"


@dataclass
class MixedLoad:
    base_url: str
    headers_for: Callable[[int], dict[str, str]]
    symbols: list[str]
    users: list[int]
    connections: int = 32
    trade_share: float = 0.1
    market_share: float = 0.1

    async def run(self, stop: asyncio.Event, seconds: float | None = None) -> LoadResult:
        result = LoadResult()
        limits = httpx.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)
        headers = {u: self.headers_for(u) for u in self.users}
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=REQUEST_TIMEOUT_S) as http:
            clients = [self._client(http, headers, stop, result, i) for i in range(self.connections)]
            if seconds is not None:
                asyncio.get_running_loop().call_later(seconds, stop.set)
            await asyncio.gather(*clients)
        result.seconds = time.monotonic() - started
        return result

    async def _client(
        self, http: httpx.AsyncClient, headers: dict[int, dict[str, str]], stop: asyncio.Event, out: LoadResult, n: int
    ) -> None:
        rng = random.Random(n)
        while not stop.is_set():
            user = rng.choice(self.users)
            draw = rng.random()
            kind = TRADE if draw < self.trade_share else MARKET if draw < self.trade_share + self.market_share else READ
            out.outcomes.append(await self._one(http, kind, user, headers[user], rng))

    async def _one(
        self, http: httpx.AsyncClient, kind: str, user: int, headers: dict[str, str], rng: random.Random
    ) -> Outcome:
        started = time.monotonic()
        try:
            if kind == TRADE:
                order = {"symbol": rng.choice(self.symbols), "side": "buy", "quantity": "1", "price": "100.5"}
                keyed = {**headers, "Idempotency-Key": uuid.uuid4().hex}
                r = await http.post(f"/api/user/{user}/trades", json=order, headers=keyed)
                trade_id = str(r.json()["id"]) if r.status_code == 201 else None
                return Outcome(kind, user, started, time.monotonic(), r.status_code, trade_id, _problem(r))
            path = f"/api/user/{user}/portfolio" if kind == READ else "/api/market-data"
            r = await http.get(path, headers=headers)
            await r.aread()
            return Outcome(kind, user, started, time.monotonic(), r.status_code, error=_problem(r))
        except (httpx.HTTPError, ValueError, KeyError) as e:
            return Outcome(kind, user, started, time.monotonic(), 0, error=f"{type(e).__name__}: {e}")


def _problem(r: httpx.Response) -> str:
    return "" if r.status_code < 300 else r.text[:200]
