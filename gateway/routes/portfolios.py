"""A user's holdings valued at the current quotes."""

from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import Parameter

from domain.models import Portfolio
from gateway.dependencies import services_of

UserId = Annotated[int, Parameter(gt=0, le=2**63 - 1, description="The user's id")]


class PortfolioController(Controller):
    path = "/api/user/{user_id:int}/portfolio"
    tags = ["portfolio"]

    @get("/", operation_id="getPortfolio", summary="Holdings and totals valued at the current quotes")
    async def portfolio(self, state: State, user_id: UserId) -> Portfolio:
        return await services_of(state).portfolios.read(user_id)
