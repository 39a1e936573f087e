"""Users: operators create and list them, a user reads and updates itself, erasure removes the personal data."""

from collections.abc import Awaitable, Callable, Sequence

from msgspec import UNSET

from domain.errors import OperatorOnlyFieldError, UserErasedError, UserNotFoundError
from domain.models.audit import USER_CREATE, USER_ERASE, USER_UPDATE, Actor, AuditEntry, user_target
from domain.models.users import NewUser, User, UserChanges, UserPage, check_email
from domain.ports.users import UserStore

MAX_PAGE = 500
AfterErase = Callable[[int], Awaitable[None]]


class UserService:
    """`after_erase` runs, in order, once an erasure has committed: the holdings caches' invalidation, and
    whatever else must forget the user in every process at once (its credentials)."""

    def __init__(self, store: UserStore, *, after_erase: Sequence[AfterErase] = ()) -> None:
        self._store = store
        self._after_erase = tuple(after_erase)

    async def create(self, new: NewUser, *, actor: Actor) -> User:
        """Raises InvalidRequestError or DuplicateUserError naming the field."""
        new = new.checked()
        return await self._store.create(new, audit=AuditEntry.by(actor, USER_CREATE, "user", new.fields()))

    async def get(self, user_id: int) -> User:
        """The user; UserNotFoundError, or UserErasedError (a 404 too) once erased."""
        user = await self._store.get(user_id)
        if user is None:
            raise UserNotFoundError(user_id)
        if user.erased_at is not None:
            raise UserErasedError(user_id)
        return user

    async def update(self, user_id: int, changes: UserChanges, *, actor: Actor, may_relink: bool) -> User:
        """Change the fields given; only an operator (`may_relink`) changes the identity provider's subject,
        since whoever sets it decides who signs in as this user."""
        changes = changes.checked()
        if changes.external_id is not UNSET and not may_relink:
            raise OperatorOnlyFieldError("external_id")
        entry = AuditEntry.by(actor, USER_UPDATE, user_target(user_id), changes.fields())
        return await self._store.update(user_id, changes, audit=entry)

    async def page(self, *, limit: int = 50, before: int | None = None, email: str | None = None) -> UserPage:
        email = None if email is None else check_email(email)
        return await self._store.page(limit=min(max(limit, 1), MAX_PAGE), before=before, email=email)

    async def erase(self, user_id: int, *, actor: Actor) -> User:
        """Erase the user's personal data (audited), then make every process forget it before returning."""
        erased = await self._store.erase(user_id, audit=AuditEntry.by(actor, USER_ERASE, user_target(user_id)))
        for forget in self._after_erase:
            await forget(user_id)
        return erased
