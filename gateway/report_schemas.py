"""Reports on the wire: the 202 of a request, a report's status, and a page of them for operators."""

from datetime import datetime
from typing import Annotated

import msgspec

from domain.models.reports import EmailStatus, Report, ReportPage, ReportStatus


class ReportIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The body form of a report request, as older clients send it."""

    user_id: Annotated[int, msgspec.Meta(gt=0, le=2**63 - 1)]


class ReportAccepted(msgspec.Struct, frozen=True, kw_only=True):
    status: ReportStatus
    task_id: str
    estimated_completion: datetime
    status_url: str


class ReportOut(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    user_id: int
    status: ReportStatus
    email_status: EmailStatus
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


def status_url(report_id: str) -> str:
    return f"/api/reports/{report_id}"


def accepted(report: Report, estimated_completion: datetime) -> ReportAccepted:
    """The 202 of a report request (the route's and the lane's)."""
    return ReportAccepted(
        status=report.status,
        task_id=report.id,
        estimated_completion=estimated_completion,
        status_url=status_url(report.id),
    )


def report_out(report: Report) -> ReportOut:
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
        status_url=status_url(report.id),
        document_url=f"{status_url(report.id)}/document" if report.has_document else None,
    )


def report_page_out(page: ReportPage) -> ReportPageOut:
    return ReportPageOut(items=[report_out(r) for r in page.items], next_cursor=page.next_cursor)
