"""A user's performance over a period: time- and money-weighted returns, risk figures, a benchmark's."""

from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from domain.analytics.periods import Period
from gateway.dependencies import services_of
from gateway.openapi_schemas import problems
from gateway.performance_schemas import PerformanceOut, render_performance
from gateway.responses import FolioResponse
from gateway.routes.portfolios import USER_NOTES, UserId
from gateway.security import SCOPE

SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.\-]{0,15}$"
PeriodParam = Annotated[
    Period,
    QueryParameter(
        description="The period up to today: 1M and 3M calendar months, YTD from the 1st of January, 1Y a year,"
        " ALL as far back as the history goes (ten years at most)"
    ),
]
Benchmark = Annotated[
    str | None,
    QueryParameter(
        description="An instrument's symbol (such as SPY): its figures over the same days, from its closes",
        schema_extra={"one_of": None, "type": "string", "pattern": SYMBOL_PATTERN},
    ),
]
NOTES = {**USER_NOTES, 422: "No instrument has the benchmark symbol; `errors` names `benchmark`"}


class PerformanceController(Controller):
    path = "/api/user/{user_id:int}/performance"
    tags = ["portfolio"]

    @get(
        "/",
        operation_id="getPerformance",
        opt={SCOPE: "read"},
        summary="Returns, volatility, Sharpe and drawdown over a period, the daily values, and a benchmark's",
        description="Computed from the daily closes, the user's trades and cash ledger (deposits and withdrawals"
        " are the external flows), in the base currency. Kept per process until the day, the last close, or the"
        " user's latest trade or ledger entry changes: `X-Cache: hit` when the answer came from it, `miss` if not.",
        responses={
            200: ResponseSpec(data_container=PerformanceOut, description="Request fulfilled, document follows"),
            **problems(400, 401, 403, 404, 422, 429, 503, notes=NOTES),
        },
    )
    async def performance(
        self, state: State, user_id: UserId, period: PeriodParam = "1Y", benchmark: Benchmark = None
    ) -> Response[Any]:
        services = services_of(state)
        base = services.settings.base_currency
        body, hit = await services.performance.answer(
            user_id, period, benchmark, lambda answer: render_performance(user_id, period, base, answer)
        )
        # The body is the JSON of a PerformanceOut, encoded by render_performance.
        return FolioResponse(body, media_type="application/json", headers={"X-Cache": "hit" if hit else "miss"})
