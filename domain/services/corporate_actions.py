"""Corporate actions: operators record splits and dividends; the market day's job applies them, then every
affected user's cached holdings are dropped and (after a split) every process hears of the new quotes."""

import logging
from collections.abc import Awaitable, Callable
from datetime import date

from domain.errors import InvalidRequestError
from domain.models.audit import Actor, AuditEntry
from domain.models.corporate_actions import (
    CORPORATE_ACTION_RECORD,
    CORPORATE_ACTION_RUN,
    ActionRun,
    CorporateAction,
    CorporateActionDraft,
    ratio_text,
)
from domain.models.market_day import market_day_target
from domain.ports.corporate_actions import CorporateActionStore
from domain.ports.quotes import QuoteVersionBus

log = logging.getLogger("folio.corporate_actions")
CORPORATE_ACTIONS_ACTOR = Actor(name="system:corporate-actions")


class CorporateActionService:
    def __init__(
        self,
        store: CorporateActionStore,
        invalidate: Callable[[int], Awaitable[None]],
        bus: QuoteVersionBus | None = None,
    ) -> None:
        self._store = store
        self._invalidate = invalidate
        self._bus = bus

    async def record(self, draft: CorporateActionDraft, *, actor: Actor) -> CorporateAction:
        """Check and record the action; it takes effect with the market day's run before its ex-date."""
        if draft.kind == "dividend" and draft.pay_date is not None and draft.pay_date < draft.ex_date:
            raise InvalidRequestError("a dividend's pay date is on or after its ex-date", field="pay_date")
        change: dict[str, object] = {"kind": draft.kind, "symbol": draft.symbol, "ex_date": draft.ex_date.isoformat()}
        if draft.ratio is not None:
            change["ratio"] = ratio_text(draft.ratio)
        if draft.amount_per_share is not None and draft.pay_date is not None:
            change |= {"amount_per_share": str(draft.amount_per_share), "pay_date": draft.pay_date.isoformat()}
        audit = AuditEntry.by(actor, CORPORATE_ACTION_RECORD, f"instrument:{draft.symbol}", change)
        return await self._store.record(draft, audit=audit)

    async def list(self, *, limit: int) -> tuple[CorporateAction, ...]:
        return await self._store.list(limit=limit)

    async def run(self, day: date) -> ActionRun | None:
        """`day`'s run, at most once (a repeat returns None); then drop the affected users' cached holdings."""
        audit = AuditEntry.by(CORPORATE_ACTIONS_ACTOR, CORPORATE_ACTION_RUN, market_day_target(day))
        done = await self._store.run(day, audit=audit)
        if done is None:
            log.info("corporate actions of %s: already done", day)
            return None
        for user_id in done.users:
            await self._invalidate(user_id)
        if done.version is not None and self._bus is not None:
            await self._bus.announce(done.version)
        log.info(
            "corporate actions of %s: %d splits, %d holders recorded, %d dividends paid",
            day, done.splits, done.holders_recorded, done.payments,
        )  # fmt: skip
        return done
