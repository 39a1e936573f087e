"""An exception deep in an adapter reaches the client as a bare 500 problem; the log keeps the detail."""

import logging
from pathlib import Path

import pytest

pytestmark = [pytest.mark.http, pytest.mark.integration]

REPO = str(Path(__file__).resolve().parents[2])  # where the code lives on this machine
SECRET = f'SELECT * FROM holdings WHERE user_id = 1 -- File "{REPO}/domain/adapters/postgres/holdings.py" psycopg'  # noqa: S608 - a fake error text, never run
LEAKS = ("SELECT", "holdings.py", REPO, "psycopg", "Traceback", "File ", "line ", "RuntimeError")


class BoomError(RuntimeError):
    pass


async def explode(*_args, **_kwargs):
    raise BoomError(SECRET)


@pytest.mark.parametrize("path", ["/api/user/424242/portfolio", "/api/user/424242/trades"])
async def test_an_unexpected_adapter_error_leaks_nothing_and_is_logged_under_the_request_id(
    client, app, monkeypatch, caplog, path
):
    services = app.state.services
    # The repository is the adapter; break the use cases' calls into it (both lanes, and trades).
    monkeypatch.setattr(services.portfolios, "holdings", explode)
    monkeypatch.setattr(services.portfolios, "read", explode)
    monkeypatch.setattr(services.trades, "history", explode)
    with caplog.at_level(logging.ERROR):
        response = await client.get(path, headers={"X-Request-ID": "leak-check-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["request_id"] == "leak-check-1"
    for leak in LEAKS:
        assert leak not in response.text, leak
    assert not any("/" in v for k, v in response.headers.items() if k == "server")
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "leak-check-1"]
    assert logged, "the error was not logged under the request id"
    assert any(r.exc_info and SECRET in str(r.exc_info[1]) for r in logged)
