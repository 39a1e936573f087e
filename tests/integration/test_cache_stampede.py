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


def fresh_user(url: str) -> int:
    """A user created now, so no process and no cache can have seen it."""
    with psycopg.connect(url, autocommit=True) as conn:
        user_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM users").fetchone()[0]
        conn.execute("INSERT INTO users (id, email, name) VALUES (%s, %s, 'Stampede')", (user_id, f"s{user_id}@x.io"))
        conn.execute(
            "INSERT INTO holdings (user_id, instrument_id, quantity, average_cost) "
            "SELECT %s, id, 10, 1 FROM instruments ORDER BY id LIMIT 3",
            (user_id,),
        )
    return int(user_id)


def holdings_queries(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE %s", (HOLDINGS_QUERY,)
        ).fetchone()
    return int(row[0])


async def test_a_hundred_concurrent_misses_in_one_process_make_one_query(client, statements):
    user = fresh_user(statements)
    before = holdings_queries(statements)
    responses = await asyncio.gather(*(client.get(f"/api/user/{user}/portfolio") for _ in range(100)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert holdings_queries(statements) - before == 1


async def test_a_hundred_concurrent_misses_across_two_processes_make_one_query(
    two_web_processes, statements, auth_headers
):
    user = fresh_user(statements)
    before = holdings_queries(statements)
    async with httpx.AsyncClient(
        headers=auth_headers(user), timeout=10, limits=httpx.Limits(max_connections=200)
    ) as http:
        responses = await asyncio.gather(
            *(http.get(f"{p.url}/api/user/{user}/portfolio") for p in two_web_processes for _ in range(50))
        )
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["total_market_value"] for r in responses}) == 1
    assert holdings_queries(statements) - before == 1
