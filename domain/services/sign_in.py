"""Who an identity provider's verified access token is among Folio's users.

The token's subject (`sub`) is a user's `external_id`. An operator links the two (creating the user with it,
or setting it later); with auto-provisioning on, a subject seen for the first time becomes a new user, named
and reached by the token's `name` and `email`. An email that already belongs to another user is never taken
over by a token: linking an existing user to a subject is an operator's decision.
"""

from domain.errors import DuplicateUserError, ExternalTokenRejectedError, InvalidRequestError
from domain.models.audit import Actor
from domain.models.identity import ExternalClaims
from domain.models.users import NewUser, User
from domain.ports.users import UserStore
from domain.services.users import UserService

PROVISIONER = Actor(name="system:oidc")  # the audit log's actor for users created on first sign-in


class ExternalSignIn:
    def __init__(self, users: UserService, store: UserStore, *, auto_provision: bool) -> None:
        self._users = users
        self._store = store
        self._auto_provision = auto_provision

    async def user_for(self, claims: ExternalClaims) -> User:
        """The user linked to the token's subject, created now if allowed.

        Raises:
            ExternalTokenRejectedError: no user is linked and none may be created from this token.
            UnavailableError: the user store cannot answer now.
        """
        user = await self._store.by_external_id(claims.subject)
        if user is not None:
            return user
        if not self._auto_provision:
            raise ExternalTokenRejectedError("no user is linked to this token's subject: an operator links one")
        if not claims.email:
            raise ExternalTokenRejectedError("the token carries no email claim to create its user from")
        new = NewUser(
            email=claims.email, name=claims.name or claims.email.partition("@")[0], external_id=claims.subject
        )
        try:
            return await self._users.create(new, actor=PROVISIONER)
        except DuplicateUserError as e:
            if e.field == "external_id":  # another request for the same subject created it first
                linked = await self._store.by_external_id(claims.subject)
                if linked is not None:
                    return linked
            raise ExternalTokenRejectedError(
                "another user already has this token's email: an operator links that user to this subject"
            ) from None
        except InvalidRequestError as e:
            raise ExternalTokenRejectedError(f"the token's claims cannot make a user: {e.detail}") from None
