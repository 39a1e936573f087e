"""Reports: request one (202, recorded before it is queued), follow it, fetch its PDF, list a user's; operators
list them by status."""

import re
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.openapi.spec import Example
from litestar.params import Body, PathParameter, QueryParameter

from gateway.dependencies import services_of
from gateway.openapi_contract import UUID_PATTERN
from gateway.openapi_schemas import problems
from gateway.report_schemas import (
    ReportAccepted,
    ReportIn,
    ReportOut,
    ReportPageOut,
    accepted,
    report_out,
    report_page_out,
)
from gateway.responses import FolioResponse
from gateway.routes.portfolios import MAX_USER_ID, USER_ID_BOUNDS, USER_NOTES, IdempotencyKey, UserId
from gateway.security import SCOPE, authorize_owner

PDF = "application/pdf"
_UUID = re.compile(UUID_PATTERN)
TaskId = Annotated[
    str,
    PathParameter(
        description="The task_id the 202 returned", schema_extra={"format": "uuid", "pattern": f"^{UUID_PATTERN}$"}
    ),
]
ReportUser = Annotated[
    int | None,
    QueryParameter(
        gt=0,
        le=MAX_USER_ID,
        required=False,
        description="The user the report is for: here, or as `user_id` in a JSON body (400 naming `user_id` when"
        " neither names one, or when the two differ)",
        examples=[Example(value=1)],
        schema_extra={**USER_ID_BOUNDS, "one_of": None, "type": "integer"},
    ),
]
ReportBody = Annotated[
    ReportIn | None,
    Body(description='`{"user_id": N}`: the other way to name the user (the query is the usual one)'),
]
Status = Literal["queued", "running", "succeeded", "failed"]
Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Page size, at most 500")]
Cursor = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `next_cursor` of the previous page, as it came (422 naming `cursor` for any other)",
        schema_extra={"one_of": None, "type": "string"},
    ),
]
REQUEST_NOTES = {
    **USER_NOTES,
    403: "A user's token or API key may request only its own user's report; an API key needs the scope `reports`",
}
CURSOR_NOTE = "The cursor is not one this API gave out; `errors` names `cursor`"
OWNER_NOTES = {
    403: "A user's token or API key may reach only its own reports; an API key needs the scope `reports`",
    404: "No report with this task_id",
}


def _task_id(value: str) -> str:
    if not _UUID.fullmatch(value):
        raise ValidationException(
            "task_id is wrong",
            extra=[{"key": "task_id", "source": "path", "message": "must be a UUID as returned by the report request"}],
        )
    return value.lower()


def _owner(query: int | None, body: ReportIn | None) -> int:
    """The user a request names, in the query or in the body (as the original clients did), not both differently."""
    if body is not None and query is not None and body.user_id != query:
        raise _invalid_user("the query and the body name different users")
    owner = query if query is not None else body.user_id if body is not None else None
    if owner is None:
        raise _invalid_user("this parameter is required (in the query, or as user_id in a JSON body)")
    return owner


def _invalid_user(message: str) -> ValidationException:
    return ValidationException("user_id is wrong", extra=[{"key": "user_id", "source": "query", "message": message}])


class ReportController(Controller):
    path = "/api"
    tags = ["reports"]

    @post(
        "/generate-report",
        operation_id="generateReport",
        opt={SCOPE: "reports"},
        status_code=202,
        summary="Request a portfolio report: 202 at once; the worker computes, renders and emails it",
        description="A repeated `Idempotency-Key` (for the same user) returns the first report.",
        responses=problems(400, 401, 403, 404, 429, 503, notes=REQUEST_NOTES),
    )
    async def generate(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_id: ReportUser = None,
        data: ReportBody = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReportAccepted]:
        if user_id is None and "user_id" in request.query_params:  # Litestar reads `?user_id=null` as None
            raise _invalid_user("must be an integer")
        owner = _owner(user_id, data)
        authorize_owner(request, owner)  # the owner is not a path parameter: the app-wide guard reads paths only
        reports = services_of(state).reports
        result = await reports.request(owner, idempotency_key)
        view = accepted(result.report, reports.estimated_completion(result.report))
        headers = {"Location": view.status_url}
        if not result.created:
            headers["Idempotent-Replayed"] = "true"
        return FolioResponse(view, status_code=202, headers=headers)

    @get(
        "/reports/{task_id:str}",
        operation_id="getReport",
        opt={SCOPE: "reports"},
        summary="A report's status, timestamps and error",
        responses=problems(400, 401, 403, 404, 429, 503, notes=OWNER_NOTES),
    )
    async def status(self, request: Request[Any, Any, Any], state: State, task_id: TaskId) -> ReportOut:
        report = await services_of(state).reports.get(_task_id(task_id))
        authorize_owner(request, report.user_id)
        return report_out(report)

    @get(
        "/reports/{task_id:str}/document",
        operation_id="getReportDocument",
        opt={SCOPE: "reports"},
        summary="The report's PDF; 409 while it is not rendered yet",
        media_type=PDF,
        responses=problems(
            400, 401, 403, 404, 409, 429, 503, notes={**OWNER_NOTES, 409: "The PDF is not rendered yet: try later"}
        ),
    )
    async def document(self, request: Request[Any, Any, Any], state: State, task_id: TaskId) -> Response[bytes]:
        reports = services_of(state).reports
        report_id = _task_id(task_id)
        authorize_owner(request, (await reports.get(report_id)).user_id)
        pdf = await reports.document(report_id)
        disposition = f'inline; filename="folio-report-{report_id}.pdf"'
        return Response(pdf, media_type=PDF, headers={"Content-Disposition": disposition})

    @get(
        "/ops/reports",
        operation_id="listReports",
        summary="Operators: reports by status, newest first (status=failed: the dead letters with reasons)",
        opt={"operator_only": True},
        responses=problems(
            400,
            401,
            403,
            422,
            429,
            503,
            notes={403: "Operators only", 422: CURSOR_NOTE},
        ),
    )
    async def by_status(
        self,
        state: State,
        status: Annotated[Status, QueryParameter(description="failed: the dead letters")] = "failed",
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ReportPageOut:
        page = await services_of(state).reports.by_status(status, limit=limit, cursor=cursor)
        return report_page_out(page)

    @get(
        "/user/{user_id:int}/reports",
        operation_id="listUserReports",
        opt={SCOPE: "reports"},
        summary="The user's reports in any status, newest first, paged by cursor",
        responses=problems(400, 401, 403, 404, 422, 429, 503, notes={**USER_NOTES, 422: CURSOR_NOTE}),
    )
    async def of_user(self, state: State, user_id: UserId, limit: Limit = 50, cursor: Cursor = None) -> ReportPageOut:
        page = await services_of(state).reports.of_user(user_id, limit=limit, cursor=cursor)
        return report_page_out(page)
