"""Market data: the whole snapshot (a lookup per request), one quote with its closes, and quote ingest."""

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, put
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter

from domain.services.market_data import MAX_HISTORY_DAYS
from gateway.dependencies import services_of
from gateway.documents import SnapshotDocument, document_response, document_responses
from gateway.market_data_schemas import (
    IngestResult,
    ListingView,
    MarketDataView,
    QuotesIn,
    Symbol,
    listing_view,
    render_market_data,
)
from gateway.security import operator_only

Days = Annotated[
    int | None, Parameter(ge=1, le=MAX_HISTORY_DAYS, description="Also return this many of the latest daily closes")
]
# Quotes move every second: edges may serve a copy for a second, and a slightly stale one while refetching.
MARKET_DATA_CACHE_CONTROL = "public, max-age=1, stale-while-revalidate=5, stale-if-error=60"


def market_data_document() -> SnapshotDocument:
    return SnapshotDocument(render_market_data, lambda version, digest: f"mdv{version}-{digest[:12]}")


class MarketDataController(Controller):
    path = "/api/market-data"
    tags = ["market data"]

    @get(
        "/",
        operation_id="getMarketData",
        summary="Every instrument's latest quote (gzip, br or zstd; ETag)",
        responses=document_responses(MarketDataView, "Every instrument's latest quote"),
    )
    async def snapshot(self, request: Request[Any, Any, Any], state: State) -> Response[bytes]:
        snapshot = services_of(state).quotes.current()
        return await document_response(request, state.market_data_document, snapshot, MARKET_DATA_CACHE_CONTROL)

    @get("/{symbol:str}", operation_id="getQuote", summary="One instrument's quote and, with days, its daily closes")
    async def quote(self, state: State, symbol: Symbol, days: Days = None) -> ListingView:
        market_data = services_of(state).market_data
        listing = market_data.listing(symbol)
        closes = await market_data.daily_closes(symbol, days) if days is not None else None
        return listing_view(listing, closes)

    # operator-only: guarded by `operator_only`, open until authentication lands (next issue).
    @put(
        "/quotes",
        operation_id="ingestQuotes",
        summary="Ingest a batch of quotes as a new market-data version (operator)",
        guards=[operator_only],
        opt={"operator_only": True},
        status_code=200,
    )
    async def ingest(self, state: State, data: JSONBody[QuotesIn]) -> IngestResult:
        market_data = services_of(state).market_data
        version = await market_data.ingest([q.to_domain() for q in data.quotes])
        # This process serves the new version from the next request on (others within a second).
        await state.market_data_document.settle(market_data.book.current())
        return IngestResult(version=version, quotes=len(data.quotes))
