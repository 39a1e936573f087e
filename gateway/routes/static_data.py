"""Reference data of every instrument: changes rarely, so CDNs may keep it for CDN_CACHE_TTL."""

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State

from config.settings import Settings
from gateway.dependencies import services_of
from gateway.documents import SnapshotDocument, document_response, document_responses
from gateway.market_data_schemas import InstrumentsView, render_instruments
from gateway.openapi_schemas import problems
from gateway.routes.market_data import KEY_NOTES, IfNoneMatch
from gateway.security import SCOPE

PROBLEMS = problems(400, 401, 403, 429, notes=KEY_NOTES)


def instruments_document() -> SnapshotDocument:
    # Derived from the reference data alone, so the tag stays put while quotes move.
    return SnapshotDocument(render_instruments, lambda _version, digest: f"ref-{digest}")


def instruments_cache_control(settings: Settings) -> str:
    return f"public, max-age={settings.cdn_cache_ttl}"


class StaticDataController(Controller):
    path = "/api/static-data"
    tags = ["static data"]

    @get(
        "/instruments",
        operation_id="listInstruments",
        opt={SCOPE: "read"},
        summary="Every instrument's reference data (ETag)",
        responses={**document_responses(InstrumentsView, "Every instrument's reference data"), **PROBLEMS},
    )
    async def instruments(
        self, request: Request[Any, Any, Any], state: State, if_none_match: IfNoneMatch = None
    ) -> Response[bytes]:
        snapshot = services_of(state).quotes.current()
        cache_control = instruments_cache_control(services_of(state).settings)
        return await document_response(request, state.instruments_document, snapshot, cache_control)
