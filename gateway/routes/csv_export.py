"""A user's trades, holdings and ledger as CSV files, for spreadsheets and other books (gateway/csv_documents.py)."""

from litestar import Controller, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response, Stream

from gateway.csv_documents import holdings_file, ledger_file, trades_file
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.routes.portfolios import USER_NOTES, UserId
from gateway.security import SCOPE


def _csv_answer(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=str, media_type="text/csv", description=description, generate_examples=False)


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
        return await trades_file(services_of(state), user_id)

    @get(
        "/holdings.csv",
        operation_id="exportHoldingsCsv",
        opt={SCOPE: "read"},
        summary="The user's holdings and cash valued at the current quotes, as a CSV file",
        responses={
            200: _csv_answer("A line per holding, then a line per currency of cash (column `type`: holding or cash)"),
            **problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
        },
    )
    async def holdings(self, state: State, user_id: UserId) -> Response[bytes]:
        return await holdings_file(services_of(state), user_id)

    @get(
        "/ledger.csv",
        operation_id="exportLedgerCsv",
        opt={SCOPE: "read"},
        summary="The user's ledger as a CSV file, newest first, a line per posting, streamed",
        responses={
            200: _csv_answer("Columns entry_id, booked_at, kind, trade_id, account, currency, amount"),
            **problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
        },
    )
    async def ledger(self, state: State, user_id: UserId) -> Stream:
        return await ledger_file(services_of(state), user_id)
