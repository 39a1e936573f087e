"""Operators: the audit log, newest first, filtered by actor, action, target and time."""

import re
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from domain.models.audit import AuditQuery
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.routes.trades import Cursor, Limit
from gateway.trade_schemas import decode_cursor
from gateway.user_schemas import AuditPageOut, audit_page_out

NAME_PATTERN = r"^[\x21-\x7e]+$"
_NAME = re.compile(NAME_PATTERN)


def _name(description: str) -> QueryParameter:
    return QueryParameter(
        min_length=1,
        max_length=255,
        pattern=NAME_PATTERN,
        description=description,
        schema_extra={"one_of": None, "type": "string"},
    )


Actor = Annotated[str | None, _name("Who acted: `user:42`, `operator:ada`, `apikey:7`, `system:simulator`")]
Action = Annotated[str | None, _name("A dotted action name, such as `trade.place` or `user.erase`")]
Target = Annotated[str | None, _name("What was acted on, and what is under it: `user:42` also finds `user:42/trade:7`")]
Since = Annotated[
    str | None,
    QueryParameter(
        description="Entries at or after this time (RFC 3339, with its offset)",
        schema_extra={"one_of": None, "type": "string", "format": "date-time"},
    ),
]
# RFC 3339's date-time, exactly: the parser below alone would take a number, a space or a missing offset.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"  # the date and the time
    r"(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"  # a fraction of a second, and the offset
)


def since_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        if _RFC3339.fullmatch(value):
            return msgspec.json.decode(msgspec.json.encode(value), type=datetime)
    except msgspec.ValidationError:
        pass
    raise _invalid("since", "an RFC 3339 time with its offset, such as 2026-01-31T09:00:00Z")


def _invalid(key: str, message: str) -> ValidationException:
    return ValidationException(f"{key} is wrong", extra=[{"key": key, "source": "query", "message": message}])


class AuditController(Controller):
    path = "/api/ops/audit"
    tags = ["operations"]

    @get(
        "/",
        operation_id="listAudit",
        summary="Operators: the audit log, newest first, paged by cursor",
        opt={"operator_only": True},
        responses=problems(400, 401, 403, 429, 503, notes={403: "Operators only"}),
    )
    async def page(
        self,
        state: State,
        actor: Actor = None,
        action: Action = None,
        target: Target = None,
        since: Since = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AuditPageOut:
        filters = {"actor": actor, "action": action, "target": target}
        for key, value in filters.items():
            if value is not None and not _NAME.fullmatch(value):  # the pattern's `$` lets a final newline through
                raise _invalid(key, "1 to 255 printable ASCII characters")
        query = AuditQuery(actor=actor, action=action, target=target, since=since_time(since))
        page = await services_of(state).audit.page(query, limit=limit, before=decode_cursor(cursor))
        return audit_page_out(page)
