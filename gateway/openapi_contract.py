"""What Litestar cannot say in the OpenAPI document on its own: who may call, headers, and links.

`finish_document(app)` runs once, when the app is built. Security is per operation: the `/api`
routes and `/metrics` need the bearer token, health stays open. Every response carries the
request id and timings; a 401 carries the Bearer challenge, a 429 or 503 `Retry-After`; a few
successes carry headers of their own. Links name the values one answer gives the next request
(a report's `task_id`, a user's id, a symbol), so clients and property-based tests can follow them.
"""

from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from litestar.openapi.spec import (
    Link,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)

BEARER = "BearerToken"
SECURED_PREFIXES = ("/api/", "/metrics")
MAX_ID = 2**63 - 1
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

_STRING = Schema(type=OpenAPIType.STRING)
HEADERS: dict[str, OpenAPIHeader | Reference] = {
    "X-Request-ID": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, pattern=r"^[A-Za-z0-9._:-]{1,128}$"),
        required=True,
        description="The request's id: the client's own when it sent a sane one (1-128 characters of"
        " `A-Za-z0-9._:-`), else a new one. Problem details and the logs carry it too.",
    ),
    "X-Process-Time": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, pattern=r"^[0-9]+\.[0-9]{6}$"),
        required=True,
        description="Seconds the server spent on the request",
    ),
    "Server-Timing": OpenAPIHeader(
        schema=_STRING, required=True, description="Time in the database, the cache and the app, and the total, in ms"
    ),
    "Retry-After": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER, minimum=0), required=True, description="Seconds to wait before retrying"
    ),
    "WWW-Authenticate": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, pattern="^Bearer"), required=True, description="The Bearer challenge"
    ),
    "ETag": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, pattern='^"[^"]+"$'),
        required=True,
        description="Strong entity tag of this representation (one per content coding); send it as If-None-Match",
    ),
    "X-Cache": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, enum=["hit", "miss"]),
        required=True,
        description="`hit` when the answer (the holdings, or the performance figures) came from a cache, `miss` if not",
    ),
    "Idempotent-Replayed": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, enum=["true"]),
        description="Present when a repeated Idempotency-Key returned the first answer",
    ),
}
COMMON = ("X-Request-ID", "X-Process-Time", "Server-Timing")
# Structs with forbid_unknown_fields
STRICT_BODIES = frozenset(
    {"TradeIn", "CashIn", "CorporateActionIn", "QuotesIn", "QuoteIn", "ReportIn", "ApiKeyIn", "UserIn", "UserPatch"}
)
STRICT_BODIES |= {"WebhookIn", "WebhookPatch"}
OPTIONAL_BODIES = frozenset({"generateReport"})  # the body is one of two ways to say what the query can say
CSV_ALTERNATIVES = frozenset({"getPortfolio", "listTrades"})  # with `Accept: text/csv`, the `.csv` route's file
BY_STATUS = {"401": ("WWW-Authenticate",), "429": ("Retry-After",), "503": ("Retry-After",)}


@dataclass(frozen=True)
class Answer:
    """What one operation's response of one status carries beyond its body: headers and links."""

    headers: dict[str, OpenAPIHeader | str] = field(default_factory=dict)  # a str names a shared header
    links: dict[str, Link] = field(default_factory=dict)


def _header(description: str, schema: Schema = _STRING, *, required: bool = True) -> OpenAPIHeader:
    return OpenAPIHeader(schema=schema, required=required, description=description)


def _link(operation_id: str, description: str, body: Any = None, **parameters: str) -> Link:
    return Link(operation_id=operation_id, parameters=parameters or None, request_body=body, description=description)


_TASK = "$response.body#/task_id"
_NEW_USER = "$response.body#/id"
_NEW_WEBHOOK = "$response.body#/endpoint/id"
_USER_URL = "^/api/users/[1-9][0-9]*$"


def _user_links(user_id: str) -> dict[str, Link]:
    return {
        "user": _link("getUser", "The user's profile", user_id=user_id),
        "update": _link("updateUser", "Change the user's profile", user_id=user_id),
        "export": _link("exportUser", "Everything held about the user", user_id=user_id),
        "portfolio": _link("getPortfolio", "The user's portfolio", user_id=user_id),
        "trades": _link("listTrades", "The user's trades", user_id=user_id),
    }


_DOCUMENT_HEADERS: dict[str, OpenAPIHeader | str] = {
    "ETag": "ETag",
    "Cache-Control": _header("How long a shared cache (a CDN) may keep this representation"),
}
ANSWERS: dict[tuple[str, str], Answer] = {
    ("getPortfolio", "200"): Answer(
        headers={"X-Cache": "X-Cache"},
        links={
            "trades": _link("listTrades", "This user's trades", user_id="$response.body#/user_id"),
            "placeTrade": _link(
                "placeTrade",
                "Trade an instrument this user holds",
                {"symbol": "$response.body#/holdings/0/symbol"},
                user_id="$response.body#/user_id",
            ),
            "report": _link("generateReport", "A report of this portfolio", user_id="$response.body#/user_id"),
        },
    ),
    ("placeTrade", "201"): Answer(
        headers={"Idempotent-Replayed": "Idempotent-Replayed"},
        links={
            "trades": _link("listTrades", "This user's trades, this one first", user_id="$response.body#/user_id"),
            "portfolio": _link("getPortfolio", "The portfolio after this trade", user_id="$response.body#/user_id"),
            "tradeAgain": _link(
                "placeTrade",
                "Another trade of the same instrument",
                {"symbol": "$response.body#/symbol"},
                user_id="$response.body#/user_id",
            ),
            "report": _link("generateReport", "A report after this trade", user_id="$response.body#/user_id"),
        },
    ),
    ("moveCash", "201"): Answer(
        headers={"Idempotent-Replayed": "Idempotent-Replayed"},
        links={
            "ledger": _link("listLedger", "This user's ledger, this entry first", user_id="$response.body#/user_id"),
            "portfolio": _link("getPortfolio", "The portfolio with this cash", user_id="$response.body#/user_id"),
        },
    ),
    ("getPerformance", "200"): Answer(headers={"X-Cache": "X-Cache"}),
    ("listLedger", "200"): Answer(
        links={
            "nextPage": _link(
                "listLedger", "The next page", user_id="$request.path.user_id", cursor="$response.body#/next_cursor"
            ),
        }
    ),
    ("listTrades", "200"): Answer(
        links={
            "nextPage": _link(
                "listTrades", "The next page", user_id="$request.path.user_id", cursor="$response.body#/next_cursor"
            ),
            "portfolio": _link("getPortfolio", "This user's portfolio", user_id="$request.path.user_id"),
        }
    ),
    ("generateReport", "202"): Answer(
        headers={
            "Location": _header(
                "The report's status URL", Schema(type=OpenAPIType.STRING, pattern=f"^/api/reports/{UUID_PATTERN}$")
            ),
            "Idempotent-Replayed": "Idempotent-Replayed",
        },
        links={
            "status": _link("getReport", "The report's status", task_id=_TASK),
            "document": _link("getReportDocument", "The report's PDF, once rendered", task_id=_TASK),
        },
    ),
    ("getReport", "200"): Answer(
        links={
            "document": _link("getReportDocument", "The report's PDF, once rendered", task_id=_TASK),
            "portfolio": _link("getPortfolio", "The portfolio the report is about", user_id="$response.body#/user_id"),
            "reports": _link("listUserReports", "The user's reports, newest first", user_id="$response.body#/user_id"),
        }
    ),
    ("getReportDocument", "200"): Answer(
        headers={"Content-Disposition": _header("`inline`, with the file name of the PDF")}
    ),
    ("listReports", "200"): Answer(
        links={
            "report": _link("getReport", "The newest report of the page", task_id="$response.body#/items/0/task_id"),
        }
    ),
    ("listUserReports", "200"): Answer(
        links={
            "nextPage": _link(
                "listUserReports",
                "The next page",
                user_id="$request.path.user_id",
                cursor="$response.body#/next_cursor",
            ),
            "report": _link("getReport", "The newest report of the page", task_id="$response.body#/items/0/task_id"),
        }
    ),
    ("getMarketData", "200"): Answer(
        headers=_DOCUMENT_HEADERS,
        links={"quote": _link("getQuote", "One instrument's quote", symbol="$response.body#/quotes/0/symbol")},
    ),
    ("getMarketData", "304"): Answer(headers=_DOCUMENT_HEADERS),
    ("listInstruments", "200"): Answer(
        headers=_DOCUMENT_HEADERS,
        links={"quote": _link("getQuote", "One instrument's quote", symbol="$response.body#/instruments/0/symbol")},
    ),
    ("listInstruments", "304"): Answer(headers=_DOCUMENT_HEADERS),
    ("metrics", "200"): Answer(headers={"Cache-Control": _header("`no-store`")}),
    ("createApiKey", "201"): Answer(
        links={
            "keys": _link("listApiKeys", "This user's keys, this one among them", user_id="$request.path.user_id"),
            "revoke": _link(
                "revokeApiKey", "Revoke this key", user_id="$request.path.user_id", key_id="$response.body#/id"
            ),
        }
    ),
    ("createWebhook", "201"): Answer(
        links={
            "endpoint": _link("getWebhook", "This endpoint", user_id="$request.path.user_id", webhook_id=_NEW_WEBHOOK),
            "deliveries": _link(
                "listWebhookDeliveries", "What was sent to it", user_id="$request.path.user_id", webhook_id=_NEW_WEBHOOK
            ),
            "rotate": _link(
                "rotateWebhookSecret", "A new secret", user_id="$request.path.user_id", webhook_id=_NEW_WEBHOOK
            ),
        }
    ),
    ("listWebhookDeliveries", "200"): Answer(
        links={
            "nextPage": _link(
                "listWebhookDeliveries",
                "The next page",
                user_id="$request.path.user_id",
                webhook_id="$request.path.webhook_id",
                cursor="$response.body#/next_cursor",
            )
        }
    ),
    ("listApiKeys", "200"): Answer(
        links={
            "revoke": _link(
                "revokeApiKey",
                "Revoke the newest key",
                user_id="$request.path.user_id",
                key_id="$response.body#/items/0/id",
            ),
        }
    ),
    ("createUser", "201"): Answer(
        headers={"Location": _header("The new user's URL", Schema(type=OpenAPIType.STRING, pattern=_USER_URL))},
        links=_user_links(_NEW_USER),
    ),
    ("getUser", "200"): Answer(links=_user_links(_NEW_USER)),
    ("updateUser", "200"): Answer(links=_user_links(_NEW_USER)),
    ("listUsers", "200"): Answer(
        links={
            "nextPage": _link("listUsers", "The next page", cursor="$response.body#/next_cursor"),
            "user": _link("getUser", "The newest user of the page", user_id="$response.body#/items/0/id"),
        }
    ),
    ("exportUser", "200"): Answer(
        headers={"Content-Disposition": _header("`attachment`, with the file name of the export")},
        links={"user": _link("getUser", "The user exported", user_id="$response.body#/user/id")},
    ),
    ("exportTradesCsv", "200"): Answer(
        headers={"Content-Disposition": _header("`attachment`, with the file name `folio-trades-{user_id}.csv`")}
    ),
    ("exportHoldingsCsv", "200"): Answer(
        headers={"Content-Disposition": _header("`attachment`, with the file name `folio-holdings-{user_id}.csv`")}
    ),
    ("exportLedgerCsv", "200"): Answer(
        headers={"Content-Disposition": _header("`attachment`, with the file name `folio-ledger-{user_id}.csv`")}
    ),
    ("importTrades", "201"): Answer(
        links={
            "trades": _link(
                "listTrades", "This user's trades, the imported ones among them", user_id="$request.path.user_id"
            ),
            "portfolio": _link("getPortfolio", "The portfolio after the import", user_id="$request.path.user_id"),
        }
    ),
    ("listAudit", "200"): Answer(
        links={"nextPage": _link("listAudit", "The next page", cursor="$response.body#/next_cursor")}
    ),
}


def _ref(name: str) -> Reference:
    return Reference(ref=f"#/components/headers/{name}")


def _finish_response(response: OpenAPIResponse, status: str, answer: Answer | None) -> None:
    headers: dict[str, OpenAPIHeader | Reference] = {name: _ref(name) for name in COMMON + BY_STATUS.get(status, ())}
    if answer is not None:
        for name, header in answer.headers.items():
            headers[name] = _ref(header) if isinstance(header, str) else header
        response.links = dict(answer.links) or None
    response.headers = headers


def _operations(openapi: OpenAPI) -> list[tuple[str, Operation]]:
    methods = ("get", "put", "post", "delete", "patch")
    items = (openapi.paths or {}).items()
    return [(path, op) for path, item in items for m in methods if isinstance(op := getattr(item, m, None), Operation)]


def _refuse_unknown_fields(openapi: OpenAPI) -> None:
    # msgspec's forbid_unknown_fields: a request body with a field the schema does not name is a 400.
    for name, schema in openapi.components.schemas.items():
        if name in STRICT_BODIES:
            schema.additional_properties = False


def _exact_user_ids(openapi: OpenAPI) -> None:
    # Litestar writes a Struct field's integer bounds as floats: 2**63 - 1 would read as 2**63.
    report = openapi.components.schemas.get("ReportIn")
    user_id = (report.properties or {}).get("user_id") if report is not None else None
    if not isinstance(user_id, Schema):
        raise RuntimeError("the OpenAPI document has no ReportIn.user_id to bound")
    user_id.maximum, user_id.exclusive_minimum = MAX_ID, 0


def _state_batch_limit(openapi: OpenAPI, quote_batch_max: int) -> None:
    batch = openapi.components.schemas.get("QuotesIn")
    quotes = (batch.properties or {}).get("quotes") if batch is not None else None
    if not isinstance(quotes, Schema):
        raise RuntimeError("the OpenAPI document has no QuotesIn.quotes to bound")
    quotes.max_items = quote_batch_max


def finish_document(app: Litestar, *, quote_batch_max: int) -> None:
    """Security, headers and links on every operation, and the settings' limits; raises on a stale table."""
    openapi = app.openapi_schema
    _refuse_unknown_fields(openapi)
    _exact_user_ids(openapi)
    _state_batch_limit(openapi, quote_batch_max)
    openapi.security = None
    openapi.components.security_schemes = {
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT or API key",
            description="A signed JWT, or an API key (`folio_<prefix>_<secret>`) limited to its scopes",
        )
    }
    openapi.components.headers = dict(HEADERS)
    finished = set()
    for path, operation in _operations(openapi):
        operation.security = [{BEARER: []}] if path.startswith(SECURED_PREFIXES) else None
        if operation.operation_id in OPTIONAL_BODIES and isinstance(operation.request_body, RequestBody):
            operation.request_body.required = False
        for status, response in (operation.responses or {}).items():
            if isinstance(response, OpenAPIResponse):
                if status == "200" and operation.operation_id in CSV_ALTERNATIVES and response.content:
                    response.content["text/csv"] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
                key = (operation.operation_id or "", status)
                _finish_response(response, status, ANSWERS.get(key))
                finished.add(key)
    if missing := set(ANSWERS) - finished:
        raise RuntimeError(f"OpenAPI answers for responses the document lacks: {sorted(missing)}")
