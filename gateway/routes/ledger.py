"""Cash: deposit or withdraw (idempotently), and page through the user's ledger, newest first."""

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.params import JSONBody, QueryParameter

from domain.errors import InvalidRequestError
from gateway.amounts import AMOUNT_DECODERS, ExactJSONRequest
from gateway.dependencies import services_of
from gateway.ledger_schemas import (
    CURRENCY_PATTERN,
    CashIn,
    CashOut,
    LedgerPageOut,
    cash_out,
    currency_of,
    ledger_page_out,
)
from gateway.openapi_schemas import problems
from gateway.responses import FolioResponse
from gateway.routes.audit import Since, since_time
from gateway.routes.portfolios import USER_NOTES, IdempotencyKey, UserId
from gateway.routes.trades import Cursor, Limit
from gateway.security import SCOPE, actor_of
from gateway.trade_schemas import decode_cursor

CurrencyFilter = Annotated[
    str | None,
    QueryParameter(
        description="Only entries with a posting in this currency (ISO 4217, such as EUR)",
        schema_extra={"one_of": None, "type": "string", "pattern": CURRENCY_PATTERN},
    ),
]
MOVE_NOTES = {
    **USER_NOTES,
    422: "An amount out of bounds or too precise, a withdrawal beyond the balance (`amount`), a currency that is"
    " not three capital letters, or an Idempotency-Key reused for a different request; `errors` names the field",
}


class CashController(Controller):
    path = "/api/user/{user_id:int}/cash"
    tags = ["cash"]
    request_class = ExactJSONRequest  # JSON numbers keep every digit
    type_decoders = AMOUNT_DECODERS

    @post(
        "/",
        operation_id="moveCash",
        opt={SCOPE: "trade"},
        summary="Deposit or withdraw cash; a repeated Idempotency-Key returns the first result",
        responses=problems(400, 401, 403, 404, 413, 422, 429, 503, notes=MOVE_NOTES),
    )
    async def move(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_id: UserId,
        data: JSONBody[CashIn],
        idempotency_key: IdempotencyKey = None,
    ) -> FolioResponse[CashOut]:
        ledger = services_of(state).ledger
        result = await ledger.move(user_id, data.to_domain(), idempotency_key, actor=actor_of(request))
        headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
        return FolioResponse(cash_out(user_id, result), status_code=201, headers=headers)


class LedgerController(Controller):
    path = "/api/user/{user_id:int}/ledger"
    tags = ["cash"]

    @get(
        "/",
        operation_id="listLedger",
        opt={SCOPE: "read"},
        summary="The user's cash ledger, newest first, paged by cursor",
        responses=problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
    )
    async def page(
        self,
        state: State,
        user_id: UserId,
        currency: CurrencyFilter = None,
        since: Since = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> LedgerPageOut:
        if currency is not None:
            try:
                currency_of(currency)
            except InvalidRequestError as e:
                extra = [{"key": "currency", "source": "query", "message": e.detail}]
                raise ValidationException("currency is wrong", extra=extra) from None
        ledger = services_of(state).ledger
        page = await ledger.entries(
            user_id, currency=currency, since=since_time(since), limit=limit, before=decode_cursor(cursor)
        )
        return ledger_page_out(page)
