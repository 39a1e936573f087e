"""A user's data export (GDPR access): the profile and holdings up front, then each long list a page at a time,
so an export of any size streams in constant memory. Pages are read as the export goes: a trade placed while
it streams may or may not be in it."""

from collections.abc import AsyncIterator

import msgspec

from domain.models.api_keys import ApiKey
from domain.models.audit import AuditQuery, AuditRecord, user_target
from domain.models.holdings import Holdings
from domain.models.ledger import Entry
from domain.models.reports import Report
from domain.models.trades import Trade
from domain.models.users import User
from domain.ports.audit import AuditLog
from domain.ports.credentials import ApiKeyStore
from domain.ports.holdings import HoldingsRepository
from domain.ports.ledger import Ledger
from domain.ports.reports import ReportRepository
from domain.ports.trades import TradeStore
from domain.services.users import UserService

PAGE = 500


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    user: User
    holdings: Holdings
    api_keys: tuple[ApiKey, ...]  # the keys not revoked; only their digests are stored, never the secrets


class ExportService:
    def __init__(
        self,
        users: UserService,
        holdings: HoldingsRepository,
        trades: TradeStore,
        reports: ReportRepository,
        audit: AuditLog,
        api_keys: ApiKeyStore,
        ledger: Ledger,
        *,
        page: int = PAGE,
    ) -> None:
        self._users = users
        self._holdings = holdings
        self._trades = trades
        self._reports = reports
        self._audit = audit
        self._api_keys = api_keys
        self._ledger = ledger
        self._page = page

    async def profile(self, user_id: int) -> Profile:
        """What comes first; raises UserNotFoundError (erased users too) before anything is sent."""
        user = await self._users.get(user_id)
        holdings = await self._holdings.get(user_id)
        keys = await self._api_keys.list(user_id)
        return Profile(user=user, holdings=holdings or Holdings(user_id=user_id, items=()), api_keys=keys)

    async def trades(self, user_id: int) -> AsyncIterator[Trade]:
        before: int | None = None
        while True:
            page = await self._trades.history(user_id, limit=self._page, before=before)
            for trade in page.items:
                yield trade
            if (before := page.next_before) is None:
                return

    async def ledger(self, user_id: int) -> AsyncIterator[Entry]:
        """The user's cash ledger, newest entry first."""
        before: int | None = None
        while True:
            page = await self._ledger.entries(user_id, currency=None, since=None, limit=self._page, before=before)
            for entry in page.items:
                yield entry
            if (before := page.next_before) is None:
                return

    async def reports(self, user_id: int) -> AsyncIterator[Report]:
        """The reports' metadata (their PDFs are fetched one by one from their `document_url`)."""
        cursor: str | None = None
        while True:
            page = await self._reports.of_user(user_id, limit=self._page, cursor=cursor)
            for report in page.items:
                yield report
            if (cursor := page.next_cursor) is None:
                return

    async def audit(self, user_id: int) -> AsyncIterator[AuditRecord]:
        """The audit entries about the user (its target and those under it: its trades, its keys)."""
        query = AuditQuery(target=user_target(user_id))
        before: int | None = None
        while True:
            page = await self._audit.page(query, limit=self._page, before=before)
            for record in page.items:
                yield record
            if (before := page.next_before) is None:
                return
