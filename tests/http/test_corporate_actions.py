"""Recording corporate actions over HTTP: operators only, bad input named, the list shows what was recorded."""

import asyncio
import time
import uuid

import psycopg
import pytest

from tests.http.test_audit import entries_of_request

pytestmark = [pytest.mark.http, pytest.mark.integration]
# Ex-dates far ahead: no test's run reaches them, so these actions stay recorded, never applied.
SYMBOL = f"CH{uuid.uuid4().hex[:8].upper()}"
SPLIT = {"type": "split", "symbol": SYMBOL, "ratio": "1/3", "ex_date": "9990-03-01"}
DIVIDEND = {
    "type": "dividend", "symbol": SYMBOL, "amount_per_share": "0.25", "ex_date": "9990-03-01",
    "pay_date": "9990-03-15",
}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
async def instrument(settings, client) -> None:
    """The module's own instrument, and a corporate actions run long ago (a claim only: it changes nothing).
    The instrument is published as a new quote version and waited for: otherwise it would appear in the
    static data at the next test's ingest, and change that data's ETag under it."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO job_runs (job, day, outcome) VALUES ('corporate_actions', '2000-01-01', 0)"
            " ON CONFLICT (job, day) DO NOTHING"
        )
        conn.execute(
            "INSERT INTO instruments (id, symbol, name, asset_class, currency, exchange)"
            " SELECT coalesce(max(id), 0) + 1, %s, 'Split Test', 'equity', 'GBP', 'TEST' FROM instruments",
            (SYMBOL,),
        )
        conn.execute("INSERT INTO quote_versions (quotes) VALUES (1)")
    await served(client, SYMBOL)


async def served(client, symbol: str) -> None:
    deadline = time.monotonic() + 30
    while symbol not in (await client.get("/api/static-data/instruments")).text:
        assert time.monotonic() < deadline, f"{symbol} not in the static data within 30 s"
        await asyncio.sleep(0.2)


async def test_an_operator_records_a_reverse_split_and_a_dividend_and_lists_them(client):
    split = await client.post("/api/ops/corporate-actions", json=SPLIT)
    assert split.status_code == 201, split.text
    dividend = await client.post("/api/ops/corporate-actions", json={**DIVIDEND, "amount_per_share": 0.25})
    assert dividend.status_code == 201, dividend.text
    assert dividend.json()["amount_per_share"] == 0.25
    assert dividend.json()["currency"] == "GBP"  # the instrument's
    items = (await client.get("/api/ops/corporate-actions", params={"limit": 2})).json()["items"]
    assert [(a["id"], a["type"], a["ratio"], a["applied_at"], a["state"], a["failure"]) for a in items] == [
        (dividend.json()["id"], "dividend", None, None, "pending", None),
        (split.json()["id"], "split", "1/3", None, "pending", None),
    ]  # fmt: skip
    [entry] = await entries_of_request(client, split.headers["x-request-id"], action="corporate_action.record")
    assert (entry["actor"], entry["target"]) == ("operator:operator", f"corporate-action:{split.json()['id']}")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({**SPLIT, "symbol": "NOSUCH"}, 422, "symbol"),
        ({**SPLIT, "symbol": "CASH-EUR"}, 422, "symbol"),  # a currency's quote
        ({**SPLIT, "ratio": "0"}, 422, "ratio"),
        ({**SPLIT, "ratio": "2/0"}, 422, "ratio"),
        ({**SPLIT, "ratio": "1"}, 422, "ratio"),
        ({**SPLIT, "ratio": "-2"}, 400, "ratio"),
        ({**SPLIT, "ratio": "1001"}, 422, "ratio"),
        ({**SPLIT, "ratio": "1/1001"}, 422, "ratio"),
        ({**SPLIT, "ex_date": "2000-01-02"}, 422, "ex_date"),  # the run for 2000-01-01 has passed it
        ({k: v for k, v in SPLIT.items() if k != "ratio"}, 422, "ratio"),
        ({**DIVIDEND, "pay_date": "9990-02-28"}, 422, "pay_date"),
        ({**DIVIDEND, "amount_per_share": "0"}, 422, "amount_per_share"),
        ({**DIVIDEND, "ratio": "2"}, 422, "ratio"),
        ({**DIVIDEND, "ex_date": "soon"}, 400, "ex_date"),
        ({**SPLIT, "type": "merger"}, 400, "type"),
    ],
)
async def test_bad_corporate_actions_name_the_field(client, body, status, field):
    r = await client.post("/api/ops/corporate-actions", json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text


async def test_users_may_not_record_corporate_actions(client, auth_headers):
    r = await client.post("/api/ops/corporate-actions", json=SPLIT, headers=auth_headers(1))
    assert r.status_code == 403
    assert (await client.get("/api/ops/corporate-actions", headers=auth_headers(1))).status_code == 403
