"""The OpenAPI document told the truth: Folio's number format and the problem details every route can answer.

Folio encodes `Decimal` as an exact JSON number (gateway/responses.py) and accepts a number or a
decimal string; Litestar documents every `Decimal` as a string, so the document said otherwise.
"""

from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from gateway.problems import PROBLEM_JSON, Problem

_WITH_BODY = {"POST", "PUT", "PATCH"}
DECIMAL_STRING = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


class DecimalAsNumber(OpenAPISchemaPlugin):
    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Decimal

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return Schema(
            one_of=[Schema(type=OpenAPIType.NUMBER), Schema(type=OpenAPIType.STRING, pattern=DECIMAL_STRING)],
            description="An exact decimal: a JSON number in responses; a number or a decimal string in requests",
        )


PROBLEM_STATUSES = {
    400: "The request is malformed or a parameter is invalid; `errors` names the fields",
    401: "The bearer token is missing, invalid or expired",
    403: "The token may not reach this object or route",
    404: "The object does not exist",
    422: "The request breaks a business rule; `errors` names the field",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: "A dependency is unavailable; retry after `Retry-After` seconds",
}
BODY_STATUSES = {413: "The request body is larger than the limit"}


def declare_problem_responses(app: Litestar) -> None:
    """Declare, on every `/api` operation, the problem details that the shared error mapping can answer."""
    spec = {
        status: ResponseSpec(
            data_container=Problem, media_type=PROBLEM_JSON, description=description, generate_examples=False
        )
        for status, description in {**PROBLEM_STATUSES, **BODY_STATUSES}.items()
    }
    for route in app.routes:
        if not route.path.startswith("/api/") or not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            statuses = PROBLEM_STATUSES.keys() | (BODY_STATUSES.keys() if handler.http_methods & _WITH_BODY else set())
            declared = dict(handler.responses or {})
            for status in statuses:
                declared.setdefault(status, spec[status])
            handler.responses = declared
