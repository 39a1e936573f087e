"""API keys for the bench: one per user, created through the API as a client creates its own."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

THREADS = 8  # the server is pinned to one core: more only queue


def mint_keys(base_url: str, users: range, path: Path, operator_token: str) -> Path:
    """Create a `read` key for each user (with the operator's token) and write `<user_id> <key>` lines to
    `path`, the same shape as the token file, so the Lua scripts send each request its user's key."""
    auth = {"Authorization": f"Bearer {operator_token}"}

    def one(client: httpx.Client, user: int) -> str:
        body = {"name": "bench", "scopes": ["read"]}
        r = client.post(f"{base_url}/api/user/{user}/api-keys", json=body, headers=auth)
        if r.status_code != 201:
            raise RuntimeError(f"the server refused to create a bench key: {r.status_code} {r.text[:200]}")
        return f"{user} {r.json()['key']}"

    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(THREADS) as pool:
        lines = list(pool.map(lambda user: one(client, user), users))
    path.write_text("\n".join(lines) + "\n")
    return path
