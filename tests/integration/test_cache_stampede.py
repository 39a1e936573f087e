"""Many concurrent misses on one user cost one database query, in one process and across two."""

import asyncio

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.integration

HOLDINGS_QUERY = "%LEFT JOIN holdings h ON h.user_id = u.id%"


@pytest.fixture(scope="module")
def statements(servers):
    """pg_stat_statements on the session's database (the embedded server preloads it)."""
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except psycopg.Error:
            pytest.skip("pg_stat_statements is not loaded on this server")
    return servers.database_url


def holdings_queries(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE %s", (HOLDINGS_QUERY,)
        ).fetchone()
    return int(row[0])


async def test_a_hundred_concurrent_misses_in_one_process_make_one_query(client, statements):
    before = holdings_queries(statements)
    responses = await asyncio.gather(*(client.get("/api/user/5001/portfolio") for _ in range(100)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert holdings_queries(statements) - before == 1


async def test_a_hundred_concurrent_misses_across_two_processes_make_one_query(
    two_web_processes, statements, auth_headers
):
    before = holdings_queries(statements)
    async with httpx.AsyncClient(
        headers=auth_headers(5002), timeout=10, limits=httpx.Limits(max_connections=200)
    ) as http:
        responses = await asyncio.gather(
            *(http.get(f"{p.url}/api/user/5002/portfolio") for p in two_web_processes for _ in range(50))
        )
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["total_market_value"] for r in responses}) == 1
    assert holdings_queries(statements) - before == 1
