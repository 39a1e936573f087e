"""Users: the record of who holds a portfolio, changed together with its audit entry."""

from abc import abstractmethod
from typing import Protocol

from domain.models.audit import AuditEntry
from domain.models.users import NewUser, User, UserChanges, UserPage


class UserStore(Protocol):
    """The record of users. Each change and its audit entry are written in one transaction, or neither."""

    @abstractmethod
    async def create(self, user: NewUser, *, audit: AuditEntry) -> User:
        """Insert `user` with the next free id; the entry is completed with the target `user:<id>`.

        Raises:
            DuplicateUserError: another user has this email or external id (`field` names which).
        """

    @abstractmethod
    async def get(self, user_id: int) -> User | None:
        """The user, erased ones too (with `erased_at` set); None when there is no such user."""

    @abstractmethod
    async def by_external_id(self, external_id: str) -> User | None:
        """The user linked to this subject at the identity provider; None when there is none (erasure unlinks).

        Raises:
            UnavailableError: the store cannot answer now.
        """

    @abstractmethod
    async def update(self, user_id: int, changes: UserChanges, *, audit: AuditEntry) -> User:
        """Apply the fields given and stamp `updated_at`; nothing given changes nothing and records nothing.

        Raises:
            UserNotFoundError, UserErasedError, DuplicateUserError.
        """

    @abstractmethod
    async def page(self, *, limit: int, before: int | None, email: str | None) -> UserPage:
        """Users not erased, newest (highest id) first, with ids below `before`; `email` picks the one user
        with that address (compared in lower case)."""

    @abstractmethod
    async def erase(self, user_id: int, *, audit: AuditEntry) -> User:
        """Replace the user's personal data (name, email, external id), stamp `erased_at` and the token
        watermark `tokens_not_before`, delete the PDFs of the user's reports and fail those not finished.
        Trades, holdings and the reports' other columns stay (pseudonymous: the user row is all that named them).

        Raises:
            UserNotFoundError, UserErasedError (already erased: nothing changes).
        """
