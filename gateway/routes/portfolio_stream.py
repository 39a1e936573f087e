"""A user's portfolio as a live stream of server-sent events, from the process's stream hub."""

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter

from domain.errors import TooManyStreamsError
from gateway.dependencies import services_of
from gateway.event_stream import EVENT_STREAM, EventStream
from gateway.openapi_schemas import problems
from gateway.problems import problem_response
from gateway.routes.portfolios import USER_NOTES, UserId
from gateway.security import SCOPE

LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        max_length=64,
        required=False,
        description="The `id` of the last event received: the stream starts with the current state unless it"
        " is that one",
        schema_extra={"one_of": None, "type": "string"},
    ),
]
STREAM_DESCRIPTION = (
    "Server-sent events: `retry:` first, then `event: portfolio` with the whole portfolio (as the portfolio"
    " route answers it) and `id: <quotes version>.<holdings digest>`, again when the user's valuation"
    " moves with the quotes (at most once per STREAM_MIN_INTERVAL_MS) and at once after the user's own trade"
    " or cash booking; a `: heartbeat` comment every STREAM_HEARTBEAT_S; a final `retry:` when the instance"
    " shuts down."
)


class PortfolioStreamController(Controller):
    path = "/api/user/{user_id:int}/portfolio/stream"
    tags = ["portfolio"]

    @get(
        "/",
        operation_id="streamPortfolio",
        opt={SCOPE: "read"},
        summary="The portfolio as a live stream of server-sent events",
        description=STREAM_DESCRIPTION,
        responses={
            200: ResponseSpec(data_container=str, media_type=EVENT_STREAM, description="The event stream"),
            **problems(400, 401, 403, 404, 429, 503, notes={
                **USER_NOTES, 429: "Too many requests, or too many open streams (the user's or the instance's)",
            }),
        },
    )  # fmt: skip
    async def stream(
        self, request: Request[Any, Any, Any], state: State, user_id: UserId, last_event_id: LastEventId = None
    ) -> Response[Any]:
        services = services_of(state)
        streams = services.streams
        try:
            subscriber = await streams.open(user_id, last_event_id)
        except TooManyStreamsError as e:
            return problem_response(request, 429, e.detail, retry_after_s=services.settings.retry_after_s)
        return EventStream(streams, subscriber)
