"""Trade imports: a CSV file of trades booked all together or not at all (domain/services/trade_imports.py)."""

from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import QueryParameter

from domain.models.trade_imports import TooManyRowsError, TradeImportRejectedError
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.problems import PROBLEM_JSON, FieldError, problem_response, request_id_of
from gateway.responses import FolioResponse, json_encoder
from gateway.routes.portfolios import USER_NOTES, UserId
from gateway.security import SCOPE, actor_of
from gateway.trade_import_schemas import ImportOut, ImportProblem, import_out, row_error_out

Format = Literal["generic", "ibkr", "schwab"]
FormatQuery = Annotated[
    Format,
    QueryParameter(
        description="The file's layout: `generic` (Folio's own), `ibkr` (an Interactive Brokers Flex query of"
        " trades) or `schwab` (a Charles Schwab transactions export)"
    ),
]
DryRun = Annotated[bool, QueryParameter(description="true: book nothing, answer what would be booked and why not")]
IMPORT_NOTES = {
    **USER_NOTES,
    413: "The body is larger than the limit, or the file has more rows than one import books",
    400: "A query parameter out of range, or a body that is empty or not UTF-8 text",
    422: "A row cannot be booked (a cell unreadable, an amount out of bounds, an unknown symbol, selling more than"
    " is held), so none is; `errors` names each row and column at fault",
}


@dataclass
class CsvBodyOperation(Operation):
    """The operation, with the request body Litestar cannot infer from a handler that reads the raw bytes."""

    def __post_init__(self) -> None:
        text = Schema(
            type=OpenAPIType.STRING, min_length=1, description="A CSV file, UTF-8, its first line the column names"
        )
        self.request_body = RequestBody(
            content={"text/csv": OpenAPIMediaType(schema=text)}, required=True, description="The file, as it is"
        )


def _invalid_body(message: str) -> ValidationException:
    return ValidationException(message, extra=[{"key": "body", "source": "body", "message": message}])


def _text(body: bytes) -> str:
    if not body:
        raise _invalid_body("the body is empty: send the CSV file, its first line the column names")
    try:
        return body.decode("utf-8-sig")  # a spreadsheet's byte-order mark is no part of the first column's name
    except UnicodeDecodeError as e:
        raise _invalid_body(f"the file must be UTF-8 text (byte {e.start} is not)") from e


def _rejected(request: Request[Any, Any, Any], error: TradeImportRejectedError) -> Response[bytes]:
    problem = ImportProblem(
        title=HTTPStatus.UNPROCESSABLE_ENTITY.phrase,
        status=422,
        detail=error.detail,
        instance=request.url.path,
        request_id=request_id_of(request),
        errors=[row_error_out(e) for e in error.errors],
    )
    return Response(json_encoder.encode(problem), status_code=422, media_type=PROBLEM_JSON)


class TradeImportController(Controller):
    path = "/api/user/{user_id:int}/trades/import"
    tags = ["trades"]

    @post(
        "/",
        operation_id="importTrades",
        opt={SCOPE: "trade"},
        operation_class=CsvBodyOperation,
        summary="Book a CSV file of trades, all or none; rows imported before are not booked again",
        responses={
            200: ResponseSpec(data_container=ImportOut, description="A dry run, or an import that booked nothing new"),
            201: ResponseSpec(data_container=ImportOut, description="The trades booked"),
            422: ResponseSpec(
                data_container=ImportProblem, media_type=PROBLEM_JSON, description=IMPORT_NOTES[422],
                generate_examples=False,
            ),
            **problems(400, 401, 403, 404, 413, 429, 503, notes=IMPORT_NOTES),
        },
    )  # fmt: skip
    async def import_trades(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_id: UserId,
        format: FormatQuery = "generic",  # noqa: A002 (the query parameter's name)
        dry_run: DryRun = False,
    ) -> Response[Any]:
        text = _text(await request.body())  # larger than the limit: 413
        imports = services_of(state).trade_imports
        try:
            report = await imports.run(user_id, text, format, dry_run=dry_run, actor=actor_of(request))
        except TradeImportRejectedError as e:
            return _rejected(request, e)
        except TooManyRowsError as e:
            return problem_response(request, 413, e.detail, errors=[FieldError(field="body", message=e.detail)])
        created = not dry_run and bool(report.outcome.booked)
        return FolioResponse(import_out(report), status_code=201 if created else 200)
