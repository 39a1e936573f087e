"""Operators: record corporate actions (splits, dividends) and list them; the market day's job applies them."""

from typing import Any

from litestar import Controller, Request, Response, get, post, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.params import JSONBody

from gateway.amounts import AMOUNT_DECODERS, ExactJSONRequest
from gateway.corporate_action_schemas import CorporateActionIn, CorporateActionOut, CorporateActionsOut, action_out
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.responses import FolioResponse
from gateway.routes.trades import Limit
from gateway.security import actor_of

RECORD_NOTES = {
    403: "Operators only",
    422: "An unknown `symbol`, a `ratio` that is not a whole-number ratio other than 1 with terms up to 1,000, an"
    " `ex_date` a market day's run has already passed, an `amount_per_share` out of bounds, a `pay_date` before the"
    " `ex_date`, or a field missing or out of place for the type; `errors` names it",
}


class CorporateActionController(Controller):
    path = "/api/ops/corporate-actions"
    tags = ["operations"]
    request_class = ExactJSONRequest  # JSON numbers keep every digit
    type_decoders = AMOUNT_DECODERS

    @route("/", http_method=HttpMethod.OPTIONS, include_in_schema=False, sync_to_thread=False)
    def allow(self) -> Response[None]:
        # As for trades: Litestar's own OPTIONS answer would list only the first handler's method.
        return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})

    @post(
        "/",
        operation_id="recordCorporateAction",
        summary="Operators: record a split or a cash dividend, applied by the market day's run before its ex-date",
        opt={"operator_only": True},
        responses=problems(400, 401, 403, 413, 422, 429, 503, notes=RECORD_NOTES),
    )
    async def record(
        self, request: Request[Any, Any, Any], state: State, data: JSONBody[CorporateActionIn]
    ) -> FolioResponse[CorporateActionOut]:
        actions = services_of(state).corporate_actions
        action = await actions.record(data.to_domain(), actor=actor_of(request))
        return FolioResponse(action_out(action), status_code=201)

    @get(
        "/",
        operation_id="listCorporateActions",
        summary="Operators: the corporate actions recorded, newest first, with whether each is applied",
        opt={"operator_only": True},
        responses=problems(400, 401, 403, 429, 503, notes={403: "Operators only"}),
    )
    async def list_actions(self, state: State, limit: Limit = 100) -> CorporateActionsOut:
        actions = await services_of(state).corporate_actions.list(limit=limit)
        return CorporateActionsOut(items=[action_out(a) for a in actions])
