"""Corporate actions: where they are recorded, and the market day's run that applies them."""

from abc import abstractmethod
from datetime import date
from typing import Protocol

from domain.models.audit import AuditEntry
from domain.models.corporate_actions import ActionRun, CorporateAction, CorporateActionDraft


class CorporateActionStore(Protocol):
    @abstractmethod
    async def record(self, draft: CorporateActionDraft, *, audit: AuditEntry) -> CorporateAction:
        """Record the action (not yet applied), with `audit` completed with its target.

        Raises:
            UnknownSymbolError: no instrument has `draft.symbol` (naming `symbol`).
            InvalidRequestError: `draft.symbol` is a currency's quote (`CASH-EUR`...), naming `symbol`.
            UnavailableError: the store cannot answer now (nothing is written).
        """

    @abstractmethod
    async def list(self, *, limit: int) -> tuple[CorporateAction, ...]:
        """The newest `limit` actions, newest first."""

    @abstractmethod
    async def run(self, day: date, *, audit: AuditEntry) -> ActionRun | None:
        """`day`'s run, at most once, in one transaction with its (job, day) record and `audit`: pay each
        recorded holder of a dividend whose pay date is `day` or earlier (a `dividend` ledger entry, once per
        (dividend, user)), then apply each split and record each dividend's holders whose ex-date is the day
        after `day` or earlier (see domain.models.corporate_actions).

        Returns:
            What the run did, or None when `day`'s run had already happened (nothing changes).

        Raises:
            UnavailableError: the store cannot answer now (nothing is written).
        """
