"""Every error leaves as RFC 9457 problem details, mapped here and nowhere else."""

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.types import ExceptionHandlersMap

from domain.errors import (
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    UnavailableError,
    UserErasedError,
)
from gateway.auth import AuthenticationError

log = logging.getLogger("folio.errors")

PROBLEM_JSON = "application/problem+json"
_PROBLEM_JSON_BYTES = PROBLEM_JSON.encode()
UNEXPECTED_DETAIL = "an unexpected error occurred; quote the request id when reporting it"

_STATUS_BY_CATEGORY: tuple[tuple[type[DomainError], int], ...] = (
    (NotFoundError, 404),
    (InvalidRequestError, 422),
    (ConflictError, 409),
    (ForbiddenError, 403),
    (UnavailableError, 503),
)


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str
    source: str | None = None


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details, with Folio's request id and the fields at fault."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


_encoder = msgspec.json.Encoder()
_NAMED_FIELD = re.compile(r"(?:required|unknown) field `([^`]+)`")
_MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter '([^']+)'")  # Litestar's words, no `extra`


async def send_problem(
    scope: Any, send: Any, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Problem details straight onto the wire, for the ASGI layers in front of Litestar."""
    problem = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=scope["path"],
        request_id=scope.get("state", {}).get("request_id"),
    )
    body = _encoder.encode(problem)
    start = [(b"content-type", _PROBLEM_JSON_BYTES), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


async def send_unavailable(scope: Any, send: Any, e: UnavailableError, retry_after_s: int, template: str) -> None:
    """A lane's 503 for a dependency that is down, with Retry-After; answered in the lane, because the regular
    handler's second try would wait out the dependency's deadline again."""
    log.warning("dependency unavailable: %s", e.detail, extra={"request_id": scope.get("state", {}).get("request_id")})
    scope["path_template"] = template
    await send_problem(scope, send, 503, e.detail, [(b"retry-after", str(retry_after_s).encode())])


def request_id_of(request: Request[Any, Any, Any]) -> str | None:
    rid = request.scope.get("state", {}).get("request_id")
    return rid if isinstance(rid, str) else None


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    detail: str | None,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    retry_after_s: int = 1,
) -> Response[bytes]:
    problem = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=request_id_of(request),
        errors=errors,
    )
    headers = dict(headers or {})
    if status in (429, 503):
        headers.setdefault("Retry-After", str(retry_after_s))
    return Response(_encoder.encode(problem), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    if isinstance(exc, UserErasedError) and getattr(request.scope.get("user"), "user_id", None) == exc.user_id:
        # The erased user's own token: its subject is gone, so the credential is what is wrong.
        return http_error_handler(request, AuthenticationError("this token's user was erased"))
    status = next((code for cls, code in _STATUS_BY_CATEGORY if isinstance(exc, cls)), 400)
    if status == 503:
        log.warning("dependency unavailable: %s", exc.detail, extra={"request_id": request_id_of(request)})
    errors = [FieldError(field=exc.field, message=exc.detail)] if exc.field else None
    retry = request.app.state.get("retry_after_s", 1)
    return problem_response(request, status, exc.detail, errors=errors, retry_after_s=retry)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    errors = _field_errors(exc) if isinstance(exc, ValidationException) else None
    detail = exc.detail if exc.status_code < 500 else None
    if isinstance(exc, ValidationException):
        detail = "the request is not valid" + (f": {errors[0].field} is wrong" if errors else "")
    elif isinstance(exc.__cause__, SerializationException):  # Litestar could not decode the body at all
        detail = f"the request body is not valid JSON: {exc.detail}"
        errors = [FieldError(field="body", message=str(exc.detail), source="body")]
    return problem_response(request, exc.status_code, detail, errors=errors, headers=exc.headers or None)


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # The client learns nothing internal; the log keeps the detail under the request id.
    log.exception("unhandled error", exc_info=exc, extra={"request_id": request_id_of(request)})
    return problem_response(request, 500, UNEXPECTED_DETAIL)


def _field_of(item: dict[str, Any]) -> str:
    # A body error names the parameter ("data"); msgspec's message has the path: "... - at `$.quotes[0].price`",
    # and a missing or unknown field is named in the message itself: "Object missing required field `price`".
    key = item.get("key")
    if key and key != "data":
        return str(key)  # a parameter, or a field a handler named itself
    message = str(item.get("message", ""))
    path = message.rpartition("- at `$.")[2].rstrip("`") if "- at `$." in message else ""
    named = _NAMED_FIELD.search(message)
    if named:
        return f"{path}.{named.group(1)}" if path else named.group(1)
    return path or "body"


def _source_of(source: Any) -> str | None:
    # Litestar names a parameter's place with its ParamType enum, whose str() is "ParamType.PATH".
    return str(getattr(source, "value", source)) if source else None


def _field_errors(exc: ValidationException) -> list[FieldError]:
    if not exc.extra and (missing := _MISSING_PARAMETER.match(str(exc.detail))):
        return [FieldError(field=missing.group(2), message="this parameter is required", source=missing.group(1))]
    items = exc.extra if isinstance(exc.extra, list) else []
    return [
        FieldError(
            field=_field_of(item),
            message=str(item.get("message", "invalid value")),
            source=_source_of(item.get("source")),
        )
        for item in items
        if isinstance(item, dict) and not _absent_optional_body(item)
    ]


def _absent_optional_body(item: dict[str, Any]) -> bool:
    # When another parameter is wrong, Litestar's error collection looks up every parameter, and an optional
    # body that was not sent (`data: X | None = None`) comes out as a KeyError, "'data'": not the client's fault.
    return item.get("key") == "data" and item.get("message") == "'data'"


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
