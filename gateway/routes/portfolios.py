"""A user's holdings valued at the current quotes."""

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter, PathParameter

from gateway.csv_documents import holdings_file, wants_csv
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.portfolio_schemas import PortfolioView, portfolio_view
from gateway.responses import FolioResponse
from gateway.security import SCOPE

MAX_USER_ID = 2**63 - 1
# Litestar writes integer bounds as floats (2**63 - 1 would read 2**63); the document states them exactly.
USER_ID_BOUNDS = {"exclusive_minimum": 0, "maximum": MAX_USER_ID}
UserId = Annotated[
    int,
    PathParameter(
        gt=0, le=MAX_USER_ID, description="The user's id", examples=[Example(value=1)], schema_extra=USER_ID_BOUNDS
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        required=False,
        description="Any printable ASCII text without spaces; a repeat returns the first answer",
        schema_extra={"one_of": None, "type": "string"},
    ),
]
USER_NOTES = {
    403: "A user's token or API key may reach only its own user's data; an API key needs the route's scope",
    404: "No user with this id",
}


class PortfolioController(Controller):
    path = "/api/user/{user_id:int}/portfolio"
    tags = ["portfolio"]

    @get(
        "/",
        operation_id="getPortfolio",
        opt={SCOPE: "read"},
        summary="Holdings and totals valued at the current quotes",
        description="`X-Cache: hit` when the holdings came from a cache, `miss` when from the database. With"
        " `Accept: text/csv`, the holdings as a CSV file, as `holdings.csv` answers.",
        responses={
            200: ResponseSpec(data_container=PortfolioView, description="The portfolio (or the CSV file)"),
            **problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
        },
    )
    async def portfolio(self, request: Request[Any, Any, Any], state: State, user_id: UserId) -> Response[Any]:
        if wants_csv(request):
            return await holdings_file(services_of(state), user_id)
        portfolio, hit = await services_of(state).portfolios.read(user_id)
        return FolioResponse(portfolio_view(portfolio), headers={"X-Cache": "hit" if hit else "miss"})
