"""A user's holdings valued at the current quotes."""

from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import PathParameter

from domain.models.holdings import Portfolio
from gateway.dependencies import services_of
from gateway.responses import FolioResponse

UserId = Annotated[int, PathParameter(gt=0, le=2**63 - 1, description="The user's id")]


class PortfolioController(Controller):
    path = "/api/user/{user_id:int}/portfolio"
    tags = ["portfolio"]

    @get(
        "/",
        operation_id="getPortfolio",
        summary="Holdings and totals valued at the current quotes",
        description="`X-Cache: hit` when the holdings came from a cache, `miss` when from the database.",
    )
    async def portfolio(self, state: State, user_id: UserId) -> FolioResponse[Portfolio]:
        portfolio, hit = await services_of(state).portfolios.read(user_id)
        return FolioResponse(portfolio, headers={"X-Cache": "hit" if hit else "miss"})
