"""Schemathesis against Folio's own OpenAPI document, on real granian processes: every check, every phase.

The document must be exact: what it calls valid is accepted, what it calls invalid is refused, every
status, header and body matches what it declares, and its links lead somewhere. Two passes for each
token, an operator's and a user's, the two tokens side by side on the two web processes: first the
examples, coverage and fuzzing phases over every operation, then the stateful phase, which follows the
links through the user's own resources (portfolio, trades, reports). The settings shared with anyone who
runs the CLI by hand are in tests/http/schemathesis.toml.
"""

import json
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from gateway.auth import mint_token

pytestmark = [pytest.mark.http, pytest.mark.integration]

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")
RANDOM_SEED = 20261206  # the same requests each run, so a failure can be replayed
RUN_USERS = (9901, 9902)  # the users the config's dictionaries name; the user token is the first one's
PROFILE = "SELECT email, name, external_id, base_currency FROM users WHERE id = %s"
# Listings are the stateful phase's preferred starting points; without them it starts from the user's resources.
LISTINGS = ("getMarketData", "listInstruments", "listReports")
# Creating users is left to the first pass: Hypothesis replays a scenario's steps, and a replayed creation
# meets its own email (409) where the first run got a 201; with it, the phase ended after 15 to 80 scenarios
# instead of about 140 (measured). The users' own operations and links are followed from the other answers.
# The CSV files end a scenario (a file has no links to follow): the operations pass covers them.
NOT_STATEFUL = (*LISTINGS, "createUser", "exportTradesCsv", "exportHoldingsCsv", "exportLedgerCsv")
PASSES = {
    "operations": ["--phases", "examples,coverage,fuzzing"],
    "stateful": ["--phases", "stateful", "--max-examples", "100"]
    + [arg for op in NOT_STATEFUL for arg in ("--exclude-operation-id", op)],
}
MIN_CASES = {"operations": 800, "stateful": 300}
TIMEOUT_S = 240


@dataclass
class Pass:
    name: str
    returncode: int
    output: str
    cases: Counter[str] = field(default_factory=Counter)  # per phase
    links: Counter[str] = field(default_factory=Counter)  # transitions the stateful phase followed


def _read_report(report_dir: Path, done: Pass) -> None:
    for line in next(report_dir.glob("*.ndjson")).read_text().splitlines():
        event = json.loads(line).get("ScenarioFinished")
        if event is None:
            continue
        for case in event["recorder"].get("cases", {}).values():
            done.cases[event["phase"]] += 1
            if case.get("is_transition_applied"):
                done.links[case["transition"]["id"]] += 1


def _run(name: str, base_url: str, token: str, report_dir: Path) -> Pass:
    command = [
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{base_url}/docs/openapi.json",
        "-H", f"Authorization: Bearer {token}", "--seed", str(RANDOM_SEED), "--no-color",
        "--generation-database", "none", "--report", "ndjson", "--report-dir", str(report_dir), *PASSES[name],
    ]  # fmt: skip
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False, cwd=report_dir.parent
    )
    done = Pass(name, finished.returncode, finished.stdout + finished.stderr)
    if report_dir.exists():
        _read_report(report_dir, done)
    return done


def _both_passes(base_url: str, token: str, report_dir: Path) -> list[Pass]:
    report_dir.mkdir()
    return [_run(name, base_url, token, report_dir / name) for name in PASSES]


def _failures(done: Pass) -> str:
    start = done.output.find("=== FAILURES") if "=== FAILURES" in done.output else done.output.find("=== ERRORS")
    return done.output[start:][:8000] if start >= 0 else done.output[-4000:]


@pytest.fixture
def run_users_reports_removed(settings):
    """The run's reports would keep a later worker busy: they go when the test ends (the rows are the record).
    The profile the run changes (user 9901's) is put back."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        profile = conn.execute(PROFILE, (RUN_USERS[0],)).fetchone()
    yield
    email, _, external_id, _ = profile
    with psycopg.connect(settings.database_url, autocommit=True) as conn, conn.transaction():
        conn.execute("DELETE FROM reports WHERE user_id = ANY(%s)", (list(RUN_USERS),))
        # A user the run created may have taken the email or external id meanwhile (it reuses values it saw).
        conn.execute("UPDATE users SET email = 'x' || id || email WHERE email = %s AND id <> %s", (email, RUN_USERS[0]))
        conn.execute(
            "UPDATE users SET external_id = NULL WHERE external_id = %s AND id <> %s", (external_id, RUN_USERS[0])
        )
        conn.execute(
            "UPDATE users SET email = %s, name = %s, external_id = %s, base_currency = %s WHERE id = %s",
            (*profile, RUN_USERS[0]),
        )


def test_the_app_honours_its_own_openapi_document(two_web_processes, settings, tmp_path, run_users_reports_removed):
    tokens = {
        "operator": mint_token(settings, subject="schemathesis", scope="operator"),
        "user": mint_token(settings, subject=str(RUN_USERS[0]), scope="user"),
    }
    with ThreadPoolExecutor(len(tokens)) as pool:
        runs = {
            who: pool.submit(_both_passes, web.url, token, tmp_path / who)
            for (who, token), web in zip(tokens.items(), two_web_processes, strict=True)
        }
        results = {who: future.result() for who, future in runs.items()}

    for who, passes in results.items():
        for done in passes:
            assert done.returncode == 0, f"{who}, {done.name}: schemathesis found\n{_failures(done)}"
            assert sum(done.cases.values()) >= MIN_CASES[done.name], (who, done.name, done.cases)
        operations, stateful = passes
        assert set(operations.cases) == {"examples", "coverage", "fuzzing"}, (who, operations.cases)
        # Real sequences: trades and reports reached through the links, not only random requests.
        followed = {link.rsplit(" -> ", 1)[-1] for link in stateful.links}
        assert "POST /api/user/{user_id}/trades" in followed, (who, stateful.links)
        assert followed & {"GET /api/reports/{task_id}", "GET /api/reports/{task_id}/document"}, (who, stateful.links)
        assert len(stateful.links) >= 4, (who, stateful.links)
