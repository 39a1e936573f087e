"""The in-memory twin of the user store: the PostgreSQL store's rules in a dict, recording through the
audit log's twin. Given the holdings, report and credential twins, it keeps them in step as the database's
rows are."""

import itertools

import msgspec

from domain.adapters.memory.audit import InMemoryAuditLog
from domain.adapters.memory.clock import FixedClock
from domain.adapters.memory.credentials import InMemoryCredentials
from domain.adapters.memory.holdings import InMemoryHoldingsRepository
from domain.adapters.memory.reports import InMemoryReportRepository
from domain.errors import DuplicateUserError, UserErasedError, UserNotFoundError
from domain.models.audit import AuditEntry, user_target
from domain.models.users import ERASED_NAME, NewUser, User, UserChanges, UserPage, erased_email
from domain.ports.clock import Clock
from domain.ports.users import UserStore


class InMemoryUserStore(UserStore):
    def __init__(
        self,
        audit: InMemoryAuditLog | None = None,
        clock: Clock | None = None,
        *,
        holdings: InMemoryHoldingsRepository | None = None,
        reports: InMemoryReportRepository | None = None,
        credentials: InMemoryCredentials | None = None,
        first_id: int = 1,
    ) -> None:
        self.audit = audit or InMemoryAuditLog()
        self.clock = clock or FixedClock()
        self.users: dict[int, User] = {}
        self._holdings = holdings
        self._reports = reports
        self._credentials = credentials
        self._ids = itertools.count(first_id)  # where the sequence stands

    def add(self, user: User) -> None:
        """A user loaded with its own id (as the demo data loads them)."""
        self.users[user.id] = user
        self._mirror(user)

    async def create(self, user: NewUser, *, audit: AuditEntry) -> User:
        self._check_unique(None, email=user.email, external_id=user.external_id)
        user_id = next(i for i in self._ids if i not in self.users)
        created = User(id=user_id, created_at=self.clock.now(), updated_at=None, **user.fields())
        self.add(created)
        self.audit.record(audit.completed(target=user_target(user_id)))
        return created

    async def get(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    async def by_external_id(self, external_id: str) -> User | None:
        return next((u for u in self.users.values() if u.external_id == external_id), None)

    async def update(self, user_id: int, changes: UserChanges, *, audit: AuditEntry) -> User:
        user = self._live(user_id)
        given = changes.fields()
        if not given:
            return user
        self._check_unique(user_id, **given)
        updated = msgspec.structs.replace(user, updated_at=self.clock.now(), **given)
        self.add(updated)
        self.audit.record(audit)
        return updated

    async def page(self, *, limit: int, before: int | None, email: str | None) -> UserPage:
        live = [u for u in self.users.values() if u.erased_at is None and (before is None or u.id < before)]
        found = sorted((u for u in live if email is None or u.email == email.lower()), key=lambda u: -u.id)
        items = tuple(found[:limit])
        return UserPage(items=items, next_before=items[-1].id if len(found) > limit else None)

    async def erase(self, user_id: int, *, audit: AuditEntry) -> User:
        self._live(user_id)
        now = self.clock.now()
        erased = msgspec.structs.replace(
            self.users[user_id], email=erased_email(user_id), name=ERASED_NAME, external_id=None, erased_at=now,
            updated_at=now,
        )  # fmt: skip
        self.users[user_id] = erased
        if self._holdings is not None:
            self._holdings.users.discard(user_id)  # its holdings stay, but no one reads them as the user's
        if self._reports is not None:
            self._reports.erase_user(user_id)
        if self._credentials is not None:
            self._credentials.erase_user(user_id, now)
        self.audit.record(audit)
        return erased

    def _live(self, user_id: int) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise UserNotFoundError(user_id)
        if user.erased_at is not None:
            raise UserErasedError(user_id)
        return user

    def _check_unique(self, user_id: int | None, **fields: object) -> None:
        for field in ("email", "external_id"):
            value = fields.get(field)
            if value is not None and any(getattr(u, field) == value and u.id != user_id for u in self.users.values()):
                raise DuplicateUserError(field)

    def _mirror(self, user: User) -> None:
        if self._holdings is not None and user.erased_at is None and user.id not in self._holdings.users:
            self._holdings.add_user(user.id)
        if self._reports is not None and user.erased_at is None:
            self._reports.users[user.id] = (user.email, user.name)
        if self._credentials is not None and user.erased_at is None:
            self._credentials.add_user(user.id)
