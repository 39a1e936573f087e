"""A user's trades and holdings as CSV files, for spreadsheets and other books (gateway/csv_documents.py)."""

from collections.abc import AsyncIterator

from litestar import Controller, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response, Stream

from domain.models.trades import Trade, TradePage
from domain.services.trades import TradeService
from gateway.csv_documents import CSV_MEDIA_TYPE, HOLDING_COLUMNS, csv_lines, holding_cells, trades_csv
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.routes.portfolios import USER_NOTES, UserId
from gateway.security import SCOPE

PAGE = 500  # trades read per query while the file streams


def _csv_answer(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=str, media_type="text/csv", description=description, generate_examples=False)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def _every_trade(trades: TradeService, user_id: int, page: TradePage) -> AsyncIterator[Trade]:
    while True:
        for trade in page.items:
            yield trade
        if page.next_before is None:
            return
        page = await trades.history(user_id, limit=PAGE, before=page.next_before)


class CsvExportController(Controller):
    path = "/api/user/{user_id:int}"
    tags = ["exports"]

    @get(
        "/trades.csv",
        operation_id="exportTradesCsv",
        opt={SCOPE: "read"},
        summary="The user's trades as a CSV file, newest first, streamed",
        responses={
            200: _csv_answer("Columns id, executed_at, symbol, side, quantity, price, realized_pnl"),
            **problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
        },
    )
    async def trades(self, state: State, user_id: UserId) -> Stream:
        trades = services_of(state).trades
        first = await trades.history(user_id, limit=PAGE, before=None)  # a 404 is answered before anything streams
        body = trades_csv(_every_trade(trades, user_id, first))
        return Stream(body, media_type=CSV_MEDIA_TYPE, headers=_attachment(f"folio-trades-{user_id}.csv"))

    @get(
        "/holdings.csv",
        operation_id="exportHoldingsCsv",
        opt={SCOPE: "read"},
        summary="The user's holdings valued at the current quotes, as a CSV file",
        responses={
            200: _csv_answer("One line per holding, columns as the portfolio's holdings"),
            **problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
        },
    )
    async def holdings(self, state: State, user_id: UserId) -> Response[bytes]:
        portfolio, _ = await services_of(state).portfolios.read(user_id)
        body = csv_lines([HOLDING_COLUMNS, *(holding_cells(h) for h in portfolio.holdings)])
        return Response(body, media_type=CSV_MEDIA_TYPE, headers=_attachment(f"folio-holdings-{user_id}.csv"))
