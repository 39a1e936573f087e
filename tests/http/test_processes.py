import httpx
import pytest

pytestmark = [pytest.mark.integration]


def test_two_web_processes_serve_the_same_portfolio(two_web_processes, auth_headers):
    user3 = auth_headers(3)
    bodies = [httpx.get(f"{p.url}/api/user/3/portfolio", headers=user3, timeout=5).json() for p in two_web_processes]
    assert bodies[0] == bodies[1]
    assert bodies[0]["user_id"] == 3
