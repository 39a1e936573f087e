"""The OpenAPI document tells the truth: Folio's number formats and each route's problem answers.

Folio encodes `Decimal` as an exact JSON number (gateway/responses.py); Litestar documents every
`Decimal` as a string. Amounts in requests (gateway/amounts.py) have their own exact schemas.
Each route lists the problem statuses it can answer with `problems(...)`, next to its code.
"""

from decimal import Decimal
from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from gateway.amounts import Amount
from gateway.problems import PROBLEM_JSON, Problem


class DecimalAsNumber(OpenAPISchemaPlugin):
    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Decimal or (isinstance(value, type) and issubclass(value, Amount))

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        annotation = field_definition.annotation
        if isinstance(annotation, type) and issubclass(annotation, Amount):
            return annotation.schema()
        return Schema(type=OpenAPIType.NUMBER, description="An exact decimal, as a JSON number")


PROBLEM_STATUSES = {
    400: "The request is malformed (a parameter, the body, or a Host this API does not serve); `errors` names"
    " the field",
    401: "The bearer token is missing, invalid or expired",
    403: "The token may not reach this object or route",
    404: "The object does not exist",
    409: "The object is not in a state that allows this yet",
    413: "The request body is larger than the limit",
    422: "The request breaks a business rule; `errors` names the field",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: "A dependency is unavailable; retry after `Retry-After` seconds",
}


def problems(*statuses: int, notes: dict[int, str] | None = None) -> dict[int, ResponseSpec]:
    """The problem-details responses of one route: exactly these statuses, each with what it means there."""
    notes = notes or {}
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=notes.get(status, PROBLEM_STATUSES[status]),
            generate_examples=False,
        )
        for status in statuses
    }
