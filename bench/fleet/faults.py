"""Scenarios 2 and 3 under the mixed load through HAProxy: a rolling restart, and the loss of a host."""

import asyncio
import time

import httpx
import psycopg

from bench.fleet.coherence import computed_on, request_reports, wait_reports
from bench.fleet.figures import Figures
from bench.fleet.fleet import Fleet
from bench.fleet.lb import StatusWatch, wait_status
from bench.fleet.load import LoadResult, MixedLoad

LOAD_USERS = list(range(1001, 1501))
HOOK_USERS = LOAD_USERS[:100]  # each with an endpoint for `trade.created`
STREAM_USER = 13
DRAIN_DEADLINE_S = 25.0  # the Procfile's --workers-kill-timeout and --worker-shutdown-timeout


def mixed_load(fleet: Fleet, connections: int, trade_share: float = 0.1) -> MixedLoad:
    return MixedLoad(fleet.lb_url, fleet.headers, fleet.symbols, LOAD_USERS, connections, trade_share)


async def read_stream(url: str, headers: dict[str, str], opened: asyncio.Event) -> str:
    """The whole body of one portfolio stream, until the server ends it."""
    body = []
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10, read=120)) as http,
        http.stream("GET", f"{url}/api/user/{STREAM_USER}/portfolio/stream", headers=headers) as r,
    ):
        opened.set()
        body.extend([text async for text in r.aiter_text()])
    return "".join(body)


def ends_with_retry(body: str) -> bool:
    lines = [line for line in body.splitlines() if line.strip()]
    return bool(lines) and lines[-1].startswith("retry:")


async def restart_host(fleet: Fleet, host: str, figures: Figures) -> dict[str, int]:
    """SIGTERM the host's web (its stream open) and worker (reports queued), start both again, wait until UP."""
    app = fleet.apps[host]
    opened = asyncio.Event()
    stream = asyncio.create_task(read_stream(app.url, fleet.headers(STREAM_USER), opened))
    await asyncio.wait_for(opened.wait(), 10)
    async with httpx.AsyncClient(timeout=10) as http:
        reports = await request_reports(http, fleet.lb_url, fleet, range(45, 53))
    assert app.web is not None
    assert app.worker is not None
    readiness = asyncio.create_task(readiness_until_closed(app.url))
    web_s, worker_s = await asyncio.gather(  # the platform stops the host's processes together
        asyncio.to_thread(app.web.stop, DRAIN_DEADLINE_S + 5), asyncio.to_thread(app.worker.stop, DRAIN_DEADLINE_S + 5)
    )
    body = await asyncio.wait_for(stream, 10)
    stopping_503 = await asyncio.wait_for(readiness, 10)
    figures.check(f"{host} readiness 503 before its listener closed", stopping_503, stopping_503, "True")
    figures.check(
        f"{host} web exit after SIGTERM", f"{web_s:.1f} s", web_s <= DRAIN_DEADLINE_S, f"<= {DRAIN_DEADLINE_S:.0f} s"
    )
    figures.check(
        f"{host} worker drain after SIGTERM",
        f"{worker_s:.1f} s",
        worker_s <= DRAIN_DEADLINE_S,
        f"<= {DRAIN_DEADLINE_S:.0f} s",
    )
    figures.check(f"{host} stream ended with retry:", ends_with_retry(body), ends_with_retry(body), "True")
    await asyncio.to_thread(app.start)
    up = await asyncio.to_thread(wait_status, fleet.lb_socket, host, "UP")
    figures.check(f"{host} back in HAProxy after restart", up, up, "True")
    return reports


async def readiness_until_closed(url: str) -> bool:
    """Poll the host's readiness until its listener closes: whether it answered the stopping 503 first."""
    seen = False
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            try:
                r = await http.get(f"{url}/health/ready")
            except httpx.TransportError:
                return seen
            seen = seen or (r.status_code == 503 and "stopping" in r.text)
            await asyncio.sleep(0.2)


async def rolling_restart(fleet: Fleet, connections: int) -> Figures:
    figures = Figures("2. rolling restart under load (SIGTERM, start, ready; app1 then app2)")
    stop = asyncio.Event()
    load = asyncio.create_task(mixed_load(fleet, connections).run(stop))
    reports: dict[str, int] = {}
    with StatusWatch(fleet.lb_socket) as watch:
        await asyncio.sleep(3)
        for host in ("app1", "app2"):
            reports |= await restart_host(fleet, host, figures)
            await asyncio.sleep(2)
        stop.set()
        result = await load
    figures.note("load through HAProxy", result.summary())
    figures.check("failed requests", len(result.failures), not result.failures, "0")
    for failure in result.failures[:5]:
        print(f"      {failure}")
    figures.check(
        "hosts HAProxy took out meanwhile", sorted(watch.seen_down), watch.seen_down == {"app1", "app2"}, "both"
    )
    async with httpx.AsyncClient(timeout=10) as http:
        statuses = await wait_reports(http, fleet.lb_url, fleet, reports, within_s=90)
    done = sum(s == "succeeded" for s in statuses.values())
    figures.check(
        "reports queued across the restarts that succeeded", f"{done} of {len(reports)}", done == len(reports), "all"
    )
    return figures


async def register_hooks(fleet: Fleet) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for user in HOOK_USERS:
            body = {"url": fleet.hooks.url, "events": ["trade.created"]}
            r = await http.post(f"{fleet.lb_url}/api/user/{user}/webhooks", json=body, headers=fleet.headers(user))
            if r.status_code != 201:
                raise RuntimeError(f"a webhook endpoint was refused: {r.status_code} {r.text[:300]}")


def trades_found(database_url: str, trade_ids: list[str]) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM trades WHERE id = ANY(%s)", ([int(i) for i in trade_ids],)).fetchone()
    return int(row[0]) if row else 0


async def lose_app2(
    fleet: Fleet, connections: int, after_s: float
) -> tuple[LoadResult, tuple[float, float], dict[str, int]]:
    """The load, reports queued through app2, then every process of app2 SIGKILLed; the load goes on `after_s`."""
    stop = asyncio.Event()
    load = asyncio.create_task(mixed_load(fleet, connections, trade_share=0.2).run(stop))
    await asyncio.sleep(3)
    async with httpx.AsyncClient(timeout=10) as http:
        reports = await request_reports(http, fleet.apps["app2"].url, fleet, range(53, 69))
    await asyncio.sleep(1.5)  # app2's worker is computing some of them
    killed_at = await asyncio.to_thread(fleet.apps["app2"].kill)  # (signalled, gone)
    await asyncio.sleep(after_s)
    stop.set()
    return await load, killed_at, reports


async def host_loss(fleet: Fleet, connections: int, after_s: float = 8.0) -> Figures:
    figures = Figures("3. host loss mid-load (SIGKILL every process of app2)")
    await register_hooks(fleet)
    result, killed_at, reports = await lose_app2(fleet, connections, after_s)
    figures.note("load through HAProxy", result.summary())
    signalled, gone = killed_at
    in_flight, failures = result.in_flight_during(signalled, gone), result.failures
    late = [f for f in failures if f.started > gone]
    figures.check(
        "failed requests (all in flight at the kill)",
        f"{len(failures)} (in flight during the kill, {(gone - signalled) * 1000:.0f} ms from SIGKILL to every"
        f" process gone: {len(in_flight)}; started after it: {len(late)})",
        len(failures) <= len(in_flight) and not late,
        "<= in flight, none started after",
    )
    for failure in failures[:5]:
        print(f"      {failure}")
    acked = [t.trade_id for t in result.trades if t.trade_id]
    found = trades_found(fleet.database_url, acked)
    figures.check("acknowledged trades lost", f"{len(acked) - found} of {len(acked)}", found == len(acked), "0")
    await _reports_after_loss(fleet, figures, reports, gone)
    await _webhooks_after_loss(fleet, figures, result)
    return figures


def report_outcomes(database_url: str, report_ids: list[str]) -> list[tuple[str, str, str]]:
    """(status, email status, the owner's address) of each report."""
    query = (
        "SELECT r.status, r.email_status, u.email FROM reports r JOIN users u ON u.id = r.user_id"
        " WHERE r.id = ANY(%s::uuid[])"
    )
    with psycopg.connect(database_url) as conn:
        return [(str(a), str(b), str(c)) for a, b, c in conn.execute(query, (report_ids,)).fetchall()]


async def _reports_after_loss(fleet: Fleet, figures: Figures, reports: dict[str, int], killed_at: float) -> None:
    deadline_s, sweep_s = fleet.settings.report_deadline_s, fleet.settings.report_sweep_interval_s
    async with httpx.AsyncClient(timeout=10) as http:
        await wait_reports(http, fleet.apps["app1"].url, fleet, reports, within_s=deadline_s * 3 + 60)
    took = time.monotonic() - killed_at
    outcomes = report_outcomes(fleet.database_url, list(reports))
    done = sum(status == "succeeded" for status, _, _ in outcomes)
    # A kill between "sending" and the mail server's 250 leaves the email's fate unknown: never resent (it may
    # have arrived), the report ends failed for an operator, as designed. Every other report must succeed.
    unknown = [email for status, mail, email in outcomes if status == "failed" and mail == "unknown"]
    lost = len(reports) - done - len(unknown)
    arrived = sum(email in fleet.mail.recipients() for email in unknown)
    figures.check("reports lost", f"{lost} of {len(reports)} ({done} succeeded)", lost == 0, "0")
    figures.note(
        "reports killed while emailing (not resent, failed for an operator)",
        f"{len(unknown)}, email arrived: {arrived}",
    )
    figures.note("reports app2's worker had started when killed", len(_started_on(fleet, "app2", list(reports))))
    figures.note("reports finished per host", computed_on(fleet, reports))
    bound = deadline_s + sweep_s + 10  # the lease runs out, the next sweep resends, app1 computes (a few s)
    figures.check(
        "all reports ended after the kill",
        f"{took:.1f} s",
        took <= bound,
        f"<= REPORT_DEADLINE_S {deadline_s:g} + sweep {sweep_s:g} + 10 s",
    )


def _started_on(fleet: Fleet, host: str, report_ids: list[str]) -> list[str]:
    text = (fleet.apps[host].log_dir / "worker.log").read_text(errors="replace")
    started = [line for line in text.splitlines() if "report attempt started" in line]
    return [r for r in report_ids if any(r in line for line in started)]


async def _webhooks_after_loss(fleet: Fleet, figures: Figures, result: LoadResult) -> None:
    wanted = {t.trade_id for t in result.trades if t.user in HOOK_USERS and t.trade_id}
    missing = wanted - fleet.hooks.trade_ids()
    for _ in range(120):  # a minute: the relay retries a lost host's leased deliveries once their lease ends
        if not (missing := wanted - fleet.hooks.trade_ids()):
            break
        await asyncio.sleep(0.5)
    figures.check(
        "webhook deliveries lost (trade.created of hooked users)", f"{len(missing)} of {len(wanted)}", not missing, "0"
    )
