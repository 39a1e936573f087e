"""Trades: place one (idempotently) and page through a user's history, newest first."""

import base64
import binascii
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.params import HeaderParameter, JSONBody, QueryParameter

from domain.models.trades import Order, Position, Trade, TradeResult
from gateway.dependencies import services_of
from gateway.responses import FolioResponse
from gateway.routes.portfolios import UserId

Symbol = Annotated[str, msgspec.Meta(min_length=1, max_length=16, pattern=r"^[A-Z0-9][A-Z0-9.\-]{0,15}$")]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$", required=False),
]


class TradeIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    symbol: Symbol
    side: Literal["buy", "sell"]
    quantity: Decimal
    price: Decimal


class HoldingOut(msgspec.Struct, frozen=True):
    quantity: Decimal
    average_cost: Decimal
    realized_pnl: Decimal


class TradeOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    symbol: str
    side: Literal["buy", "sell"]
    quantity: Decimal
    price: Decimal
    realized_pnl: Decimal
    executed_at: datetime
    holding: HoldingOut | None = None


class TradePageOut(msgspec.Struct, frozen=True):
    items: list[TradeOut]
    next_cursor: str | None


def _out(trade: Trade, position: Position | None = None) -> TradeOut:
    holding = HoldingOut(position.quantity, position.average_cost, position.realized_pnl) if position else None
    return TradeOut(
        id=trade.id,
        user_id=trade.user_id,
        symbol=trade.symbol,
        side=trade.side,
        quantity=trade.quantity,
        price=trade.price,
        realized_pnl=trade.realized_pnl,
        executed_at=trade.executed_at,
        holding=holding,
    )


def _cursor(before: int | None) -> str | None:
    return base64.urlsafe_b64encode(f"t{before}".encode()).decode().rstrip("=") if before else None


def _before(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text[:1] == "t" and text[1:].isdigit() and 0 < int(text[1:]) < 2**63:
            return int(text[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ValidationException(
        "the cursor is not one this API gave out",
        extra=[{"key": "cursor", "source": "query", "message": "unknown cursor"}],
    )


class TradeController(Controller):
    path = "/api/user/{user_id:int}/trades"
    tags = ["trades"]

    @post("/", operation_id="placeTrade", summary="Buy or sell; a repeated Idempotency-Key returns the first result")
    async def place(
        self, state: State, user_id: UserId, data: JSONBody[TradeIn], idempotency_key: IdempotencyKey = None
    ) -> FolioResponse[TradeOut]:
        order = Order(symbol=data.symbol, side=data.side, quantity=data.quantity, price=data.price)
        result: TradeResult = await services_of(state).trades.place(user_id, order, idempotency_key)
        headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
        return FolioResponse(_out(result.trade, result.position), status_code=201, headers=headers)

    @get("/", operation_id="listTrades", summary="The user's trades, newest first, paged by cursor")
    async def history(
        self,
        state: State,
        user_id: UserId,
        limit: Annotated[int, QueryParameter(ge=1, le=500, description="page size, at most 500")] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=64, description="from next_cursor")] = None,
    ) -> TradePageOut:
        page = await services_of(state).trades.history(user_id, limit=limit, before=_before(cursor))
        return TradePageOut(items=[_out(t) for t in page.items], next_cursor=_cursor(page.next_before))
