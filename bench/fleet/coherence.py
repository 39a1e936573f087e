"""Scenario 1, coherence across hosts: read-your-writes, one rate limit, and reports on whichever worker is free."""

import asyncio
import datetime
import time
import uuid
from decimal import Decimal

import httpx

from bench.fleet.figures import Figures
from bench.fleet.fleet import Fleet

COHERENCE_USER = 11
RATE_LIMIT_USER = 12
REPORT_USERS = range(21, 45)


def held(body: dict[str, object], symbol: str) -> Decimal:
    holdings = body.get("holdings", [])
    assert isinstance(holdings, list)
    found = next((h for h in holdings if h["symbol"] == symbol), None)
    return Decimal(str(found["quantity"])) if found else Decimal(0)


async def stale_reads(fleet: Fleet, trials: int) -> Figures:
    """Each trade through one host, then the next read through the other: the trade is there."""
    figures = Figures("1. coherence across hosts")
    app1, app2 = fleet.apps["app1"].url, fleet.apps["app2"].url
    symbol, stale = fleet.symbols[0], 0
    async with httpx.AsyncClient(headers=fleet.headers(COHERENCE_USER), timeout=10) as http:
        expected = held((await http.get(f"{app2}/api/user/{COHERENCE_USER}/portfolio")).json(), symbol)
        for n in range(trials):
            writer, reader = (app1, app2) if n % 2 == 0 else (app2, app1)
            order = {"symbol": symbol, "side": "buy", "quantity": "1", "price": "100.5"}
            placed = await http.post(f"{writer}/api/user/{COHERENCE_USER}/trades", json=order)
            if placed.status_code != 201:
                raise RuntimeError(f"a coherence trade was refused: {placed.status_code} {placed.text[:300]}")
            expected += 1
            seen = await http.get(f"{reader}/api/user/{COHERENCE_USER}/portfolio")
            stale += held(seen.json(), symbol) != expected
    figures.check("stale reads (trade on one host, next read on the other)", f"{stale} of {trials}", stale == 0, "0")
    return figures


async def one_rate_limit(fleet: Fleet, figures: Figures) -> None:
    """One user's requests spread over both hosts (4 web processes) are held to one limit, not one per process."""
    limit = fleet.settings.rate_limit_per_minute
    await _within_one_minute(seconds_needed=15)
    urls = [fleet.apps[h].url for h in ("app1", "app2")]
    sent = int(limit * 1.5)
    statuses: list[int] = []
    async with httpx.AsyncClient(headers=fleet.headers(RATE_LIMIT_USER), timeout=10) as http:

        async def one(n: int) -> None:
            r = await http.get(f"{urls[n % 2]}/api/user/{RATE_LIMIT_USER}/portfolio")
            statuses.append(r.status_code)

        for start in range(0, sent, 16):
            await asyncio.gather(*(one(n) for n in range(start, min(start + 16, sent))))
    admitted, refused = statuses.count(200), statuses.count(429)
    # Each extra process may overshoot by RATE_LIMIT_OVERSHOOT_PCT; separate limits would admit up to 4 x the limit.
    bound = limit * (1 + 3 * fleet.settings.rate_limit_overshoot_pct / 100)
    figures.check(
        f"admitted of {sent} requests across 2 hosts (limit {limit}/min)",
        f"{admitted} (429: {refused})",
        limit * 0.9 <= admitted <= bound and admitted + refused == sent,
        f"between {limit * 0.9:.0f} and {bound:.0f}, the rest 429",
    )


async def _within_one_minute(seconds_needed: float) -> None:
    """Start when the current minute (the limiter's window) has `seconds_needed` left."""
    second = datetime.datetime.now(datetime.UTC).second
    if 60 - second < seconds_needed:
        await asyncio.sleep(60 - second + 0.5)


async def request_reports(http: httpx.AsyncClient, base_url: str, fleet: Fleet, users: range) -> dict[str, int]:
    """Request one report for each user; {report id: its user}."""
    ids = {}
    for user in users:
        headers = {**fleet.headers(user), "Idempotency-Key": uuid.uuid4().hex}
        r = await http.post(f"{base_url}/api/generate-report", json={"user_id": user}, headers=headers)
        if r.status_code != 202:
            raise RuntimeError(f"a report request was refused: {r.status_code} {r.text[:300]}")
        ids[str(r.json()["task_id"])] = user
    return ids


async def wait_reports(
    http: httpx.AsyncClient, base_url: str, fleet: Fleet, ids: dict[str, int], within_s: float
) -> dict[str, str]:
    """Poll until every report has ended (or `within_s` passed); {id: status}."""
    deadline, statuses = time.monotonic() + within_s, dict.fromkeys(ids, "queued")
    while time.monotonic() < deadline:
        for report_id in [i for i, s in statuses.items() if s in ("queued", "running")]:
            r = await http.get(f"{base_url}/api/reports/{report_id}", headers=fleet.headers(ids[report_id]))
            if r.status_code == 200:
                statuses[report_id] = r.json()["status"]
        if all(s in ("succeeded", "failed") for s in statuses.values()):
            break
        await asyncio.sleep(0.5)
    return statuses


def computed_on(fleet: Fleet, report_ids: list[str] | dict[str, int]) -> dict[str, int]:
    """How many of the reports each host's worker finished (its log's `report succeeded` lines)."""
    counts = {}
    for host, app in fleet.apps.items():
        text = (app.log_dir / "worker.log").read_text(errors="replace")
        lines = [line for line in text.splitlines() if "report succeeded" in line]
        counts[host] = sum(1 for report_id in report_ids if any(report_id in line for line in lines))
    return counts


async def reports_on_free_workers(fleet: Fleet, figures: Figures) -> None:
    app1 = fleet.apps["app1"].url
    async with httpx.AsyncClient(timeout=10) as http:
        ids = await request_reports(http, app1, fleet, REPORT_USERS)
        statuses = await wait_reports(http, app1, fleet, ids, within_s=120)
    done = sum(s == "succeeded" for s in statuses.values())
    figures.check("reports requested through app1 that succeeded", f"{done} of {len(ids)}", done == len(ids), "all")
    counts = computed_on(fleet, list(ids))
    shown = ", ".join(f"{host}: {n}" for host, n in counts.items())
    figures.check("reports computed per host's worker", shown, all(n > 0 for n in counts.values()), "every host > 0")


async def coherence(fleet: Fleet, trials: int) -> Figures:
    figures = await stale_reads(fleet, trials)
    await one_rate_limit(fleet, figures)
    await reports_on_free_workers(fleet, figures)
    return figures
