"""A user's data export (GDPR access): one JSON document, streamed as it is read, so it never sits in memory whole."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Stream

from domain.models.quotes import QuoteSnapshot
from domain.services.export import ExportService, Profile
from gateway.api_key_schemas import ApiKeyOut, api_key_out
from gateway.dependencies import services_of
from gateway.ledger_schemas import EntryOut, entry_out
from gateway.openapi_schemas import problems
from gateway.report_schemas import ReportOut, report_out
from gateway.responses import json_encoder
from gateway.routes.portfolios import USER_NOTES, UserId
from gateway.security import SCOPE
from gateway.trade_schemas import TradeOut, trade_out
from gateway.user_schemas import (
    AuditEntryOut,
    ExportFormat,
    ExportHoldingOut,
    UserOut,
    audit_entry_out,
    user_out,
)

CHUNK_BYTES = 64 * 1024  # what one write to the client carries at most (about 250 trades)
T = TypeVar("T")


class ExportHead(msgspec.Struct, frozen=True, kw_only=True):
    format: ExportFormat
    exported_at: datetime
    user: UserOut
    holdings: list[ExportHoldingOut]
    api_keys: list[ApiKeyOut]


class ExportOut(msgspec.Struct, frozen=True, kw_only=True):
    """The document as a whole (what the stream adds up to), for the API's description."""

    format: ExportFormat
    exported_at: datetime
    user: UserOut
    holdings: list[ExportHoldingOut]
    api_keys: list[ApiKeyOut]
    trades: list[TradeOut]
    ledger: list[EntryOut]
    reports: list[ReportOut]
    audit: list[AuditEntryOut]


def _head(profile: Profile, snapshot: QuoteSnapshot) -> bytes:
    instruments = snapshot.instruments
    holdings = [
        ExportHoldingOut(
            symbol=instruments[h.instrument_id].symbol if h.instrument_id in instruments else None,
            quantity=h.quantity,
            average_cost=h.average_cost,
        )
        for h in profile.holdings.items
    ]
    head = ExportHead(
        format="folio-export/1",
        exported_at=datetime.now(UTC),
        user=user_out(profile.user),
        holdings=holdings,
        api_keys=[api_key_out(key) for key in profile.api_keys],
    )
    return json_encoder.encode(head)[:-1]  # the object stays open for the lists that follow


async def _list(name: str, items: AsyncIterator[T], view: Callable[[T], Any]) -> AsyncIterator[bytes]:
    chunk = bytearray(b',"' + name.encode() + b'":[')
    first = True
    async for item in items:
        if not first:
            chunk += b","
        chunk += json_encoder.encode(view(item))
        first = False
        if len(chunk) >= CHUNK_BYTES:
            yield bytes(chunk)
            chunk.clear()
    chunk += b"]"
    yield bytes(chunk)


async def _document(exports: ExportService, profile: Profile, snapshot: QuoteSnapshot) -> AsyncIterator[bytes]:
    user_id = profile.user.id
    yield _head(profile, snapshot)
    async for chunk in _list("trades", exports.trades(user_id), trade_out):
        yield chunk
    async for chunk in _list("ledger", exports.ledger(user_id), entry_out):
        yield chunk
    async for chunk in _list("reports", exports.reports(user_id), report_out):
        yield chunk
    async for chunk in _list("audit", exports.audit(user_id), audit_entry_out):
        yield chunk
    yield b"}"


class ExportController(Controller):
    path = "/api/user/{user_id:int}/export"
    tags = ["users"]

    @get(
        "/",
        operation_id="exportUser",
        opt={SCOPE: "read"},
        summary="Everything held about the user, as one JSON document, streamed",
        description="The profile, holdings, API keys (never their secrets), trades, cash ledger, reports' metadata"
        " (each PDF is at its `document_url`) and the audit entries about the user. An export of a user who is"
        " trading may or may not include a trade placed"
        " while it streams.",
        responses={
            200: ResponseSpec(
                data_container=ExportOut,
                media_type="application/json",
                description="The export, as an attachment",
                generate_examples=False,
            ),
            **problems(400, 401, 403, 404, 429, 503, notes=USER_NOTES),
        },
    )
    async def export(self, state: State, user_id: UserId) -> Stream:
        services = services_of(state)
        profile = await services.exports.profile(user_id)  # a 404 is answered before anything is streamed
        disposition = f'attachment; filename="folio-user-{user_id}.json"'
        return Stream(
            _document(services.exports, profile, services.quotes.current()),
            media_type="application/json",
            headers={"Content-Disposition": disposition},
        )
