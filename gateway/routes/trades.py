"""Trades: place one (idempotently) and page through a user's history, newest first."""

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter

from domain.models.trades import TradeResult
from gateway.amounts import AMOUNT_DECODERS, ExactJSONRequest
from gateway.csv_documents import trades_file, wants_csv
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.responses import FolioResponse
from gateway.routes.portfolios import USER_NOTES, IdempotencyKey, UserId
from gateway.security import SCOPE, actor_of
from gateway.trade_schemas import (
    CURSOR_PATTERN,
    TradeIn,
    TradeOut,
    TradePageOut,
    decode_cursor,
    trade_out,
    trade_page_out,
)

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="Page size, at most 500")]
Cursor = Annotated[
    str | None,
    QueryParameter(
        description="The `next_cursor` of the previous page, as it came",
        schema_extra={"one_of": None, "type": "string", "pattern": CURSOR_PATTERN},
    ),
]
PLACE_NOTES = {
    **USER_NOTES,
    422: "An unknown symbol, a quantity or price out of bounds or too precise, selling more than is held, a buy"
    " without enough cash (`amount`), a price too far from the quote, or an Idempotency-Key reused for a"
    " different order; `errors` names the field",
}


class TradeController(Controller):
    path = "/api/user/{user_id:int}/trades"
    tags = ["trades"]
    request_class = ExactJSONRequest  # JSON numbers keep every digit
    type_decoders = AMOUNT_DECODERS

    @post(
        "/",
        operation_id="placeTrade",
        opt={SCOPE: "trade"},
        summary="Buy or sell; a repeated Idempotency-Key returns the first result",
        responses=problems(400, 401, 403, 404, 413, 422, 429, 503, notes=PLACE_NOTES),
    )
    async def place(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_id: UserId,
        data: JSONBody[TradeIn],
        idempotency_key: IdempotencyKey = None,
    ) -> FolioResponse[TradeOut]:
        trades = services_of(state).trades
        result: TradeResult = await trades.place(user_id, data.to_domain(), idempotency_key, actor=actor_of(request))
        headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
        return FolioResponse(trade_out(result.trade, result.position, result.cash), status_code=201, headers=headers)

    @route("/", http_method=HttpMethod.OPTIONS, include_in_schema=False, sync_to_thread=False)
    def allow(self) -> Response[None]:
        # Litestar's own OPTIONS answer, made when the first handler of a path is registered, lists only that
        # handler's method. Registered first (handlers go in by name), this one stands in for it.
        return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})

    @get(
        "/",
        operation_id="listTrades",
        opt={SCOPE: "read"},
        summary="The user's trades, newest first, paged by cursor",
        description="With `Accept: text/csv`, every trade as a CSV file, as `trades.csv` answers.",
        responses={
            200: ResponseSpec(data_container=TradePageOut, description="A page of trades (or the CSV file)"),
            **problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
        },
    )
    async def history(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_id: UserId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response[Any]:
        before = decode_cursor(cursor)
        if wants_csv(request):
            return await trades_file(services_of(state), user_id)
        page = await services_of(state).trades.history(user_id, limit=limit, before=before)
        return FolioResponse(trade_page_out(page))
