"""Market data: the whole snapshot (a lookup per request), one quote with its closes, and quote ingest."""

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, put
from litestar.datastructures import State
from litestar.openapi.spec import OpenAPIType
from litestar.params import HeaderParameter, JSONBody, Parameter, PathParameter

from domain.services.market_data import MAX_HISTORY_DAYS
from gateway.amounts import AMOUNT_DECODERS, ExactJSONRequest
from gateway.dependencies import services_of
from gateway.documents import SnapshotDocument, document_response, document_responses
from gateway.market_data_schemas import (
    IngestResult,
    ListingView,
    MarketDataView,
    QuotesIn,
    listing_view,
    render_market_data,
)
from gateway.openapi_schemas import problems
from gateway.security import SCOPE, actor_of, operator_only

Days = Annotated[
    int | None,
    Parameter(
        ge=1,
        le=MAX_HISTORY_DAYS,
        description="Also return this many of the latest daily closes",
        schema_extra={"one_of": None, "type": OpenAPIType.INTEGER},
    ),
]
SymbolPath = Annotated[str, PathParameter(description="The instrument's symbol, as listed (404 for any other)")]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        required=False,
        description="An ETag this API gave out: 304 with no body while it is still current",
        schema_extra={"one_of": None, "type": OpenAPIType.STRING},
    ),
]
# Quotes move every second: edges may serve a copy for a second, and a slightly stale one while refetching.
MARKET_DATA_CACHE_CONTROL = "public, max-age=1, stale-while-revalidate=5, stale-if-error=60"


def market_data_document() -> SnapshotDocument:
    return SnapshotDocument(render_market_data, lambda version, digest: f"mdv{version}-{digest[:12]}")


KEY_NOTES = {403: "An API key without the scope `read`"}


class MarketDataController(Controller):
    path = "/api/market-data"
    tags = ["market data"]

    @get(
        "/",
        operation_id="getMarketData",
        opt={SCOPE: "read"},
        summary="Every instrument's latest quote (gzip, br or zstd; ETag)",
        responses={
            **document_responses(MarketDataView, "Every instrument's latest quote"),
            **problems(400, 401, 403, 429, notes=KEY_NOTES),
        },
    )
    async def snapshot(
        self, request: Request[Any, Any, Any], state: State, if_none_match: IfNoneMatch = None
    ) -> Response[bytes]:
        snapshot = services_of(state).quotes.current()
        return await document_response(request, state.market_data_document, snapshot, MARKET_DATA_CACHE_CONTROL)

    @get(
        "/{symbol:str}",
        operation_id="getQuote",
        opt={SCOPE: "read"},
        summary="One instrument's quote and, with days, its daily closes",
        responses=problems(400, 401, 403, 404, 429, 503, notes={**KEY_NOTES, 404: "No instrument with this symbol"}),
    )
    async def quote(self, state: State, symbol: SymbolPath, days: Days = None) -> ListingView:
        market_data = services_of(state).market_data
        listing = market_data.listing(symbol)
        closes = await market_data.daily_closes(symbol, days) if days is not None else None
        return listing_view(listing, closes)

    @put(
        "/quotes",
        operation_id="ingestQuotes",
        summary="Ingest a batch of quotes as a new market-data version (operator)",
        guards=[operator_only],
        opt={"operator_only": True},
        status_code=200,
        request_class=ExactJSONRequest,  # JSON numbers keep every digit
        type_decoders=AMOUNT_DECODERS,
        responses=problems(
            400,
            401,
            403,
            413,
            422,
            429,
            503,
            notes={
                403: "Operators only",
                422: "An unknown or repeated symbol, a price out of bounds or too precise, a bid above the ask,"
                " or a batch that is empty or too large; `errors` names the field",
            },
        ),
    )
    async def ingest(self, request: Request[Any, Any, Any], state: State, data: JSONBody[QuotesIn]) -> IngestResult:
        market_data = services_of(state).market_data
        version = await market_data.ingest(data.to_domain(), actor=actor_of(request))
        # This process serves the new version from the next request on (others within a second).
        await state.market_data_document.settle(market_data.book.current())
        return IngestResult(version=version, quotes=len(data.quotes))
