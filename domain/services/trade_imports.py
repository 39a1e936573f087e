"""Trade imports: a CSV file's trades booked all together or not at all, each row at most once per user."""

from collections.abc import Awaitable, Callable

import msgspec

from domain.errors import InvalidRequestError, UnavailableError
from domain.models.audit import Actor, AuditEntry, user_target
from domain.models.ledger import Settlement
from domain.models.trade_imports import (
    TRADE_IMPORT,
    ImportOutcome,
    ImportRow,
    TooManyRowsError,
    TradeImportRejectedError,
    rows_digest,
)
from domain.ports.trades import TradeStore
from domain.services.trade_import_files import MAX_ERRORS, parse_file
from domain.services.trade_import_layouts import LAYOUTS


class ImportReport(msgspec.Struct, frozen=True, kw_only=True):
    layout: str
    dry_run: bool
    records: int
    outcome: ImportOutcome
    ignored: tuple[int, ...]


class TradeImportService:
    def __init__(
        self,
        store: TradeStore,
        invalidate: Callable[[int], Awaitable[None]],
        *,
        max_rows: int,
        settlement: Callable[[], Settlement] = Settlement,
    ) -> None:
        self._store = store
        self._invalidate = invalidate
        self._max_rows = max_rows
        self._settlement = settlement  # how the rows settle in cash, asked at each import (the rates move)

    async def run(self, user_id: int, text: str, layout_name: str, *, dry_run: bool, actor: Actor) -> ImportReport:
        """Book the file's trades as `actor`'s, or on a `dry_run` say what would be booked and what is wrong.

        Raises TradeImportRejectedError (every row at fault, by row and column) when a row of a real import
        cannot be booked, then nothing is; and when the header lacks a column, dry run or not.
        InvalidRequestError naming `format` for an unknown layout; TooManyRowsError past `max_rows` rows.
        """
        layout = LAYOUTS.get(layout_name)
        if layout is None:
            raise InvalidRequestError(f"unknown format {layout_name!r}: one of {', '.join(LAYOUTS)}", field="format")
        parsed = parse_file(text, layout)
        if parsed.records > self._max_rows:
            raise TooManyRowsError(self._max_rows)
        if any(e.row == 1 for e in parsed.errors):
            raise TradeImportRejectedError(parsed.errors)  # not a file of this format at all: no dry run either
        change = {"format": layout.name, "rows": len(parsed.rows), "rows_digest": rows_digest(parsed.rows)}
        audit = AuditEntry.by(actor, TRADE_IMPORT, user_target(user_id), change)
        # A file with unreadable rows is still tried (and undone), so its other faults show at once too.
        outcome = await self._book(user_id, parsed.rows, dry_run=dry_run or bool(parsed.errors), audit=audit)
        faults = [msgspec.structs.replace(e, column=layout.columns.get(e.field, "")) for e in outcome.errors]
        errors = tuple(sorted((*parsed.errors, *faults), key=lambda e: e.row)[:MAX_ERRORS])
        if errors and not dry_run:
            raise TradeImportRejectedError(errors)
        outcome = msgspec.structs.replace(outcome, errors=errors)
        return ImportReport(
            layout=layout.name, dry_run=dry_run, records=parsed.records, outcome=outcome, ignored=parsed.ignored
        )

    async def _book(
        self, user_id: int, rows: tuple[ImportRow, ...], *, dry_run: bool, audit: AuditEntry
    ) -> ImportOutcome:
        if dry_run or not rows:
            return await self._store.import_rows(
                user_id, rows, dry_run=True, audit=audit, settlement=self._settlement()
            )
        try:
            outcome = await self._store.import_rows(
                user_id, rows, dry_run=False, audit=audit, settlement=self._settlement()
            )
        except UnavailableError:
            # The commit may have happened even though its answer was lost: drop the cached holdings anyway.
            await self._invalidate(user_id)
            raise
        await self._invalidate(user_id)
        return outcome
