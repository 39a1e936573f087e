"""Reports: request one (202, recorded before it is queued), follow it, fetch its PDF; operators list them."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from domain.models.reports import Report
from gateway.dependencies import services_of
from gateway.responses import FolioResponse
from gateway.security import authorize_owner

MAX_USER_ID = 2**63 - 1
UserIdValue = Annotated[int, msgspec.Meta(gt=0, le=MAX_USER_ID)]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$", required=False),
]
PDF = "application/pdf"
TaskId = Annotated[str, PathParameter(max_length=64, description="the task_id the 202 returned")]
Status = Literal["queued", "running", "succeeded", "failed"]


class ReportIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    user_id: UserIdValue


class ReportAccepted(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    task_id: str
    estimated_completion: datetime
    status_url: str


class ReportOut(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    user_id: int
    status: str
    email_status: str
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime
    status_url: str
    document_url: str | None


class ReportPageOut(msgspec.Struct, frozen=True):
    items: list[ReportOut]
    next_cursor: str | None


def _status_url(report_id: str) -> str:
    return f"/api/reports/{report_id}"


def _out(report: Report) -> ReportOut:
    return ReportOut(
        task_id=report.id,
        user_id=report.user_id,
        status=report.status,
        email_status=report.email_status,
        attempts=report.attempts,
        error=report.error,
        created_at=report.created_at,
        started_at=report.started_at,
        finished_at=report.finished_at,
        deadline_at=report.deadline_at,
        status_url=_status_url(report.id),
        document_url=f"{_status_url(report.id)}/document" if report.has_document else None,
    )


def _invalid(field: str, source: str, message: str) -> ValidationException:
    return ValidationException(f"{field} is wrong", extra=[{"key": field, "source": source, "message": message}])


def _task_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _invalid("task_id", "path", "must be a UUID as returned by POST /api/generate-report") from None


async def _body_user_id(request: Request[Any, Any, Any]) -> int | None:
    body = await request.body()
    if not body.strip():
        return None
    try:
        return msgspec.json.decode(body, type=ReportIn).user_id
    except msgspec.ValidationError as e:
        raise _invalid("user_id", "body", str(e)) from None
    except msgspec.DecodeError:
        raise _invalid("body", "body", "the body is not JSON") from None


def _check_owner(request: Request[Any, Any, Any], owner_user_id: int) -> None:
    """The owner check of this module (403 unless the caller is that user or an operator).

    These routes learn the owner from the body, the query or the loaded report, not from a
    `user_id` path parameter, so the app-wide guard cannot check it for them.
    """
    authorize_owner(request, owner_user_id)


class ReportController(Controller):
    path = "/api"
    tags = ["reports"]

    @post(
        "/generate-report",
        operation_id="generateReport",
        status_code=202,
        summary="Request a portfolio report: 202 at once; the worker computes, renders and emails it",
        description='`user_id` as a query parameter or a JSON body `{"user_id": …}`. '
        "A repeated `Idempotency-Key` returns the first report.",
    )
    async def generate(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_id: Annotated[int | None, QueryParameter(gt=0, le=MAX_USER_ID, required=False)] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReportAccepted]:
        body_user_id = await _body_user_id(request)
        if user_id is not None and body_user_id is not None and user_id != body_user_id:
            raise _invalid("user_id", "query", "the query and the body name different users")
        owner = user_id if user_id is not None else body_user_id
        if owner is None:
            raise _invalid("user_id", "query", "user_id is required (query parameter or JSON body)")
        _check_owner(request, owner)
        reports = services_of(state).reports
        result = await reports.request(owner, idempotency_key)
        report = result.report
        accepted = ReportAccepted(
            status=report.status,
            task_id=report.id,
            estimated_completion=reports.estimated_completion(report),
            status_url=_status_url(report.id),
        )
        headers = {"Location": accepted.status_url}
        if not result.created:
            headers["Idempotent-Replayed"] = "true"
        return FolioResponse(accepted, status_code=202, headers=headers)

    @get("/reports/{task_id:str}", operation_id="getReport", summary="A report's status, timestamps and error")
    async def status(self, request: Request[Any, Any, Any], state: State, task_id: TaskId) -> ReportOut:
        report = await services_of(state).reports.get(_task_id(task_id))
        _check_owner(request, report.user_id)
        return _out(report)

    @get(
        "/reports/{task_id:str}/document",
        operation_id="getReportDocument",
        summary="The report's PDF; 409 while it is not rendered yet",
        media_type=PDF,
    )
    async def document(self, request: Request[Any, Any, Any], state: State, task_id: TaskId) -> Response[bytes]:
        reports = services_of(state).reports
        report_id = _task_id(task_id)
        _check_owner(request, (await reports.get(report_id)).user_id)
        pdf = await reports.document(report_id)
        disposition = f'inline; filename="folio-report-{report_id}.pdf"'
        return Response(pdf, media_type=PDF, headers={"Content-Disposition": disposition})

    @get(
        "/ops/reports",
        operation_id="listReports",
        summary="Operators: reports by status, newest first (status=failed: the dead letters with reasons)",
        opt={"operator_only": True},
    )
    async def by_status(
        self,
        state: State,
        status: Annotated[Status, QueryParameter(description="failed: the dead letters")] = "failed",
        limit: Annotated[int, QueryParameter(ge=1, le=500, description="page size, at most 500")] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200, description="from next_cursor")] = None,
    ) -> ReportPageOut:
        page = await services_of(state).reports.by_status(status, limit=limit, cursor=cursor)
        return ReportPageOut(items=[_out(r) for r in page.items], next_cursor=page.next_cursor)
