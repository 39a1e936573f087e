"""docs/api.md and the served OpenAPI document describe the same API; the document's own promises hold."""

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.http, pytest.mark.integration]

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHODS = ("get", "put", "post", "delete", "patch")
OPEN = {"/health", "/health/live", "/health/ready"}


def operations(document: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def documented() -> dict[tuple[str, str], str]:
    """Each `### METHOD /path` section of docs/api.md, by method and path."""
    sections = re.split(r"^### ", API_MD.read_text(), flags=re.MULTILINE)[1:]
    found: dict[tuple[str, str], str] = {}
    for section in sections:
        method, path = section.split("\n", 1)[0].split(" ", 1)
        assert (method, path) not in found, f"{method} {path} is described twice"
        found[(method, path)] = section
    return found


@pytest.fixture
async def document(client) -> dict:
    return (await client.get("/docs/openapi.json")).json()


async def test_api_md_describes_every_operation_and_nothing_else(document):
    assert set(documented()) == set(operations(document))


async def test_api_md_lists_each_operations_id_and_statuses_as_the_document_does(document):
    pages = documented()
    for key, operation in operations(document).items():
        section = pages[key]
        assert f"Operation `{operation['operationId']}`" in section, key
        statuses = set(re.findall(r"^\| (\d{3}) \|", section, flags=re.MULTILINE))
        assert statuses == set(operation["responses"]), key


async def test_api_md_explains_every_header_the_document_declares(document):
    text = API_MD.read_text()
    headers = set(document["components"]["headers"])
    for operation in operations(document).values():
        for response in operation["responses"].values():
            headers |= set(response.get("headers", {}))
        headers |= {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
    assert headers, "the document declares no headers"
    assert {name for name in headers if f"`{name}" not in text} == set()


async def test_only_the_health_routes_are_open(document):
    for (method, path), operation in operations(document).items():
        expected = None if path in OPEN else [{"BearerToken": []}]
        assert operation.get("security") == expected, (method, path)
    assert "security" not in document
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


async def test_every_link_names_an_operation_of_the_document(document):
    ids = {operation["operationId"] for operation in operations(document).values()}
    links = [
        link
        for operation in operations(document).values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 10
    assert {link["operationId"] for link in links} <= ids
